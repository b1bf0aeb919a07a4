// What the signed-in role may do, so a control it may not use is disabled with the
// reason before the click. The server checks every write again; this only draws.

export type SessionRole = string | null;

const RANK: Record<string, number> = { VIEWER: 1, RELEASE_MANAGER: 2, ADMIN: 3 };

/** null when the role may plan (create, edit, link, move releases); else why not. */
export function planningRefusal(role: SessionRole, open: boolean): string | null {
  if (open) return null; // a server without sign-in lets everyone write
  if (role === null) return "Sign in to make changes.";
  return (RANK[role] ?? 0) >= RANK.RELEASE_MANAGER ? null : "Only release managers and administrators can make changes; you are signed in as a viewer.";
}
