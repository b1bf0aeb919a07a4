// A refused write in words: the server's messages, never a bare code.

interface ErrorLike {
  message: string;
  graphQLErrors?: readonly { message: string; extensions?: Record<string, unknown> | null }[];
  networkError?: Error;
}

export function errorText(error: ErrorLike): string {
  if (error.networkError) return "Heatshield could not be reached; nothing was saved.";
  const messages = (error.graphQLErrors ?? []).map((e) => {
    const code = e.extensions?.code;
    if (code === "CONFLICT" && typeof e.extensions?.currentVersion === "number") {
      return "Someone changed this release since you opened it; reload to see their change, then try again.";
    }
    if (code === "FORBIDDEN") return "Your role may not do this.";
    if (code === "UNAUTHENTICATED") return "Your session has ended; sign in again.";
    return e.message;
  });
  return [...new Set(messages)].join(" ") || error.message.replace(/^\[\w+\]\s*/, "");
}
