// Pages read again when the server says something they show has changed, and
// fall back to a slow poll only while the live socket is down.
import { useEffect, useRef, useSyncExternalStore } from "react";
import { useSubscription } from "urql";
import type { TypedDocumentNode } from "@graphql-typed-document-node/core";
import { live } from "../client";
import { fallbackPollMs, type LiveStatus } from "../lib/live";

export function useLiveStatus(): LiveStatus {
  return useSyncExternalStore(live.subscribe, () => live.status);
}

export function useLiveRefresh<Data, Variables extends Record<string, unknown>>(
  subscription: TypedDocumentNode<Data, Variables>,
  variables: Variables,
  refresh: () => void,
  pause = false,
): void {
  const latest = useRef(refresh);
  latest.current = refresh;
  useSubscription({ query: subscription, variables, pause }, (_previous: unknown, data: Data) => {
    latest.current();
    return data;
  });
  const every = fallbackPollMs(useLiveStatus());
  useEffect(() => {
    if (pause || every === null) return;
    const timer = window.setInterval(() => latest.current(), every);
    return () => window.clearInterval(timer);
  }, [pause, every]);
}
