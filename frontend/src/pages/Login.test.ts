import { describe, expect, it } from "vitest";
import { safeNext } from "./Login";

describe("where sign-in leads", () => {
  it("follows a path on this site", () => {
    expect(safeNext("/releases/PAY-2026.11")).toBe("/releases/PAY-2026.11");
  });

  it.each(["//evil.example/", "https://evil.example/", "/login", null])("refuses %s and opens the calendar", (next) => {
    expect(safeNext(next)).toBe("/calendar");
  });
});
