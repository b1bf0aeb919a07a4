// The session cookie from the access-control endpoints. A server without them
// (404) runs open, and the dashboard says so instead of refusing to work.

export type SessionState =
  | { kind: "signed-in"; user: string; role: string | null }
  | { kind: "anonymous" }
  | { kind: "open" };

export async function fetchSession(): Promise<SessionState> {
  const response = await fetch("/auth/session", { credentials: "same-origin", headers: { accept: "application/json" } });
  if (response.status === 404) return { kind: "open" };
  if (!response.ok) return { kind: "anonymous" };
  if (!(response.headers.get("content-type") ?? "").includes("json")) return { kind: "open" };
  const body = (await response.json().catch(() => ({}))) as Record<string, unknown>;
  return { kind: "signed-in", ...sessionUser(body) };
}

/** The user name and role out of whatever shape /auth/session answers with. */
export function sessionUser(body: Record<string, unknown>): { user: string; role: string | null } {
  const inner = (typeof body.user === "object" && body.user !== null ? body.user : body) as Record<string, unknown>;
  const user = [inner.username, inner.email, inner.name, body.username, body.user].find(
    (v): v is string => typeof v === "string" && v.length > 0,
  );
  const role = [inner.role, body.role].find((v): v is string => typeof v === "string");
  return { user: user ?? "signed in", role: role ?? null };
}

export type LoginResult = { ok: true } | { ok: false; message: string };

export async function login(username: string, password: string): Promise<LoginResult> {
  const response = await fetch("/auth/login", {
    method: "POST",
    credentials: "same-origin",
    headers: { "content-type": "application/json", accept: "application/json" },
    body: JSON.stringify({ username, password }),
  });
  // 404/405: this server has no sign-in; the dashboard then runs open.
  if (response.ok || response.status === 404 || response.status === 405) return { ok: true };
  return { ok: false, message: await loginFailure(response) };
}

async function loginFailure(response: Response): Promise<string> {
  if (response.status === 401 || response.status === 403) return "Wrong user name or password.";
  if (response.status === 429) return "Too many attempts; wait a minute and try again.";
  const body = (await response.json().catch(() => null)) as { detail?: string; error?: string } | null;
  return body?.detail ?? body?.error ?? `Sign-in failed (HTTP ${response.status}).`;
}

export async function logout(): Promise<void> {
  await fetch("/auth/logout", { method: "POST", credentials: "same-origin", headers: { "content-type": "application/json" } });
}
