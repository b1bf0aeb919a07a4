// Whether the live socket is up, so pages poll only while it is not. Pure state,
// no I/O: the client reports socket events here and pages read the status.

export type LiveStatus = "connecting" | "live" | "down";

export interface LiveState {
  status: LiveStatus;
  subscribe(listener: () => void): () => void;
  connecting(): void;
  connected(): void;
  closed(): void;
}

// A page polls this often while the socket is down, and never while it is live:
// a subscription message is what makes it read again then.
export const FALLBACK_POLL_MS = 30_000;

export function fallbackPollMs(status: LiveStatus): number | null {
  return status === "down" ? FALLBACK_POLL_MS : null;
}

export function liveState(): LiveState {
  const listeners = new Set<() => void>();
  const state: LiveState = {
    status: "connecting",
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    connecting: () => set("connecting"),
    connected: () => set("live"),
    closed: () => set("down"),
  };
  function set(status: LiveStatus) {
    if (state.status === status) return;
    state.status = status;
    for (const listener of [...listeners]) listener();
  }
  return state;
}

// The socket's address beside the page: ws for http, wss for https, same host,
// so the session cookie goes with it and the server's Origin check passes.
export function socketUrl(location: { protocol: string; host: string }, path = "/graphql"): string {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}${path}`;
}
