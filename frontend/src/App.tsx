// Routes and the signed-in shell. Pages are loaded on first visit, so the first
// paint carries only the shell and the page asked for.
import { lazy, Suspense, useCallback, useEffect, useState } from "react";
import { Navigate, NavLink, Route, Routes, useLocation, useNavigate } from "react-router";
import { fetchSession, logout, type SessionState } from "./auth";
import { Skeleton } from "./components/common";
import { SessionContext } from "./components/session";
import { roleWord } from "./lib/words";
import { loadZone, saveZone, zoneChoices } from "./lib/settings";
import { LoginPage } from "./pages/Login";

const CalendarPage = lazy(() => import("./pages/Calendar"));
const ReleasesPage = lazy(() => import("./pages/Releases"));
const ReleasePage = lazy(() => import("./pages/Release"));
const ChangeRequestsPage = lazy(() => import("./pages/ChangeRequests"));
const ChangeBoardPage = lazy(() => import("./pages/ChangeBoard"));
const EnvironmentsPage = lazy(() => import("./pages/Environments"));
const SourcesPage = lazy(() => import("./pages/Sources"));
const InsightsPage = lazy(() => import("./pages/Insights"));
const GraphiQLPage = lazy(() => import("./pages/GraphiQLPage"));

const NAV = [
  ["/calendar", "Calendar"],
  ["/releases", "Releases"],
  ["/changes", "Change requests"],
  ["/cab", "Change board"],
  ["/environments", "Environments"],
  ["/insights", "Insights"],
  ["/sources", "Sources"],
  ["/graphiql", "GraphiQL"],
] as const;

export function App() {
  const [session, setSession] = useState<SessionState | null>(null);
  const [zone, setZone] = useState(loadZone);
  const location = useLocation();
  const navigate = useNavigate();

  const refresh = useCallback(
    () =>
      fetchSession()
        .then(setSession)
        .catch(() => setSession({ kind: "anonymous" })),
    [],
  );
  // The sign-in page is shown whoever asks, so it does not ask who they are: the server
  // sends the signed-out there, and the question would be a refused request in their
  // browser's console. Signing in asks, before the guarded pages render.
  const onLogin = location.pathname === "/login";
  useEffect(() => {
    if (!onLogin && session === null) void refresh();
  }, [refresh, onLogin, session]);

  if (onLogin) return <LoginPage onSignedIn={refresh} />;
  if (session === null) return <Skeleton rows={3} label="Checking your session" />;
  if (session.kind === "anonymous") {
    const next = encodeURIComponent(location.pathname + location.search);
    return <Navigate to={`/login?next=${next}`} replace />;
  }

  const signOut = async () => {
    await logout();
    setSession({ kind: "anonymous" });
    navigate("/login");
  };

  const chooseZone = (next: string) => {
    saveZone(next);
    setZone(next);
  };

  return (
    <SessionContext.Provider value={session}>
    <div className="shell" key={zone}>
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <nav className="sidebar" aria-label="Main">
        <div className="brand">Heatshield</div>
        <ul>
          {NAV.map(([to, label]) => (
            <li key={to}>
              <NavLink to={to}>{label}</NavLink>
            </li>
          ))}
        </ul>
        <div className="who">
          {session.kind === "signed-in" ? (
            <>
              <span>{session.user}</span>
              <span className="role" data-testid="signed-in-role">
                {session.role ? roleWord(session.role) : "No role"}
              </span>
              <button type="button" className="link-button" onClick={signOut}>
                Sign out
              </button>
            </>
          ) : (
            <span className="muted">Open access (no sign-in on this server)</span>
          )}
          <label className="zone-setting">
            Time zone
            <select value={zone} onChange={(e) => chooseZone(e.target.value)}>
              {zoneChoices(zone).map((z) => (
                <option key={z} value={z}>
                  {z.replace(/_/g, " ")}
                </option>
              ))}
            </select>
          </label>
        </div>
      </nav>
      <main id="main" tabIndex={-1}>
        <Suspense fallback={<Skeleton rows={6} label="Loading page" />}>
          <Routes>
            <Route path="/" element={<Navigate to="/calendar" replace />} />
            <Route path="/calendar" element={<CalendarPage />} />
            <Route path="/releases" element={<ReleasesPage />} />
            <Route path="/releases/:key" element={<ReleasePage />} />
            <Route path="/changes" element={<ChangeRequestsPage />} />
            <Route path="/cab" element={<ChangeBoardPage />} />
            <Route path="/environments" element={<EnvironmentsPage />} />
            <Route path="/sources" element={<SourcesPage />} />
            <Route path="/insights" element={<InsightsPage />} />
            <Route path="/graphiql" element={<GraphiQLPage />} />
            <Route path="*" element={<NotFound />} />
          </Routes>
        </Suspense>
      </main>
    </div>
    </SessionContext.Provider>
  );
}

function NotFound() {
  return (
    <div className="empty">
      <strong>No such page.</strong> <NavLink to="/calendar">Back to the calendar</NavLink>
    </div>
  );
}
