"""What the vendor sandboxes share: the fault kit, the demo world and the registry by kind.

Only tests, benchmarks and the CLI/demo wiring import this package or a vendor's
`sandbox` subpackage; product modules never do (tests/test_architecture.py).
"""
