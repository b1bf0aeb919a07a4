import { describe, expect, it } from "vitest";
import { FALLBACK_POLL_MS, fallbackPollMs, liveState, socketUrl } from "./live";

describe("the live socket's state", () => {
  it("starts connecting and polls only once the socket is down", () => {
    const live = liveState();
    expect(live.status).toBe("connecting");
    expect(fallbackPollMs(live.status)).toBeNull();
    live.closed();
    expect(fallbackPollMs(live.status)).toBe(FALLBACK_POLL_MS);
    live.connected();
    expect(fallbackPollMs(live.status)).toBeNull();
  });

  it("tells listeners of a change once, and not after they leave", () => {
    const live = liveState();
    const heard: string[] = [];
    const leave = live.subscribe(() => heard.push(live.status));
    live.connected();
    live.connected();
    live.closed();
    leave();
    live.connected();
    expect(heard).toEqual(["live", "down"]);
  });
});

describe("the socket's address", () => {
  it("uses ws beside http and wss beside https, on the page's own host", () => {
    expect(socketUrl({ protocol: "http:", host: "127.0.0.1:8000" })).toBe("ws://127.0.0.1:8000/graphql");
    expect(socketUrl({ protocol: "https:", host: "hub.example.com" })).toBe("wss://hub.example.com/graphql");
  });
});
