// Who is signed in, for every page: the role decides which controls are live, and a
// control the role may not use says why before anyone clicks it.
import { createContext, useContext } from "react";
import type { SessionState } from "../auth";
import { planningRefusal } from "../lib/roles";

export const SessionContext = createContext<SessionState>({ kind: "open" });

/** null when the signed-in role may plan; else the reason its controls are disabled. */
export function usePlanningRefusal(): string | null {
  const session = useContext(SessionContext);
  return planningRefusal(session.kind === "signed-in" ? session.role : null, session.kind === "open");
}
