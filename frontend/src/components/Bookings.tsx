// Environment bookings on an environment's card and a release's page: request one,
// and (release managers) approve with any clash shown first, reject with a reason,
// or cancel. Controls the signed-in role may not use say why before the click.
import { useContext, useState, type FormEvent } from "react";
import { Link } from "react-router";
import { useMutation, useQuery } from "urql";
import { Badge, ExportLink } from "./common";
import { exportHref } from "../lib/lists";
import { SessionContext, usePlanningRefusal } from "./session";
import { approvedClashes, bookingControls, bookingStatusWord, bookingTone } from "../lib/bookings";
import { errorText } from "../lib/errors";
import { displayZone, formatWindow, fromInputValue } from "../lib/time";
import {
  ApproveBookingMutation,
  CancelBookingMutation,
  EnvironmentBookingsQuery,
  RejectBookingMutation,
  ReleaseBookingsQuery,
  RequestBookingMutation,
} from "../operations";
import type { BookingFieldsFragment } from "../gql/graphql";

type Booking = BookingFieldsFragment;

function useViewer() {
  const session = useContext(SessionContext);
  return { refusal: usePlanningRefusal(), user: session.kind === "signed-in" ? session.user : null };
}

/** `onRelease`: the release whose page the list is on; its key is said, not linked back to itself. */
export function BookingList({ bookings, onChanged, showEnvironment, onRelease }: { bookings: readonly Booking[]; onChanged: () => void; showEnvironment?: boolean; onRelease?: string }) {
  if (bookings.length === 0) return <p className="muted">No bookings.</p>;
  return (
    <ul className="bookings" aria-label="Bookings">
      {bookings.map((b) => (
        <BookingItem key={b.id} booking={b} onChanged={onChanged} showEnvironment={showEnvironment} onRelease={onRelease} />
      ))}
    </ul>
  );
}

function BookingItem({ booking, onChanged, showEnvironment, onRelease }: { booking: Booking; onChanged: () => void; showEnvironment?: boolean; onRelease?: string }) {
  const viewer = useViewer();
  const controls = bookingControls(booking, viewer);
  const clashes = approvedClashes(booking);
  const [reason, setReason] = useState("");
  const [override, setOverride] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [approving, approve] = useMutation(ApproveBookingMutation);
  const [rejecting, reject] = useMutation(RejectBookingMutation);
  const [cancelling, cancel] = useMutation(CancelBookingMutation);
  const busy = approving.fetching || rejecting.fetching || cancelling.fetching;
  const needsOverride = clashes.length > 0;
  const approveRefusal = controls.approve ?? (needsOverride && override.trim().length === 0 ? "Approving over an approved booking needs an override reason." : null);
  const rejectRefusal = controls.reject ?? (reason.trim().length === 0 ? "Say why it is rejected." : null);
  const who = booking.release ? booking.release.key : booking.team || booking.requestedBy;

  const done = (result: { error?: Parameters<typeof errorText>[0] }) => {
    if (result.error) setError(errorText(result.error));
    else {
      setError(null);
      setReason("");
      setOverride("");
      onChanged();
    }
  };
  const expectedVersion = booking.version;

  return (
    <li className="booking" data-booking={booking.id} data-status={booking.status}>
      <div>
        <Badge tone={bookingTone(booking.status)}>{bookingStatusWord(booking.status)}</Badge>{" "}
        <strong>{showEnvironment ? `${booking.environment.name} · ` : ""}{booking.purpose}</strong> ·{" "}
        {booking.release && booking.release.key !== onRelease ? <Link to={`/releases/${encodeURIComponent(booking.release.key)}`}>{booking.release.key}</Link> : who} ·{" "}
        <span className="muted">{formatWindow(booking.start, booking.end)}</span>
        <span className="muted"> · asked by {booking.requestedBy}</span>
      </div>
      {booking.decisionReason || booking.overrideReason ? (
        <p className="muted">
          {booking.decidedBy ? `${bookingStatusWord(booking.status)} by ${booking.decidedBy}` : ""}
          {booking.decisionReason ? `: ${booking.decisionReason}` : ""}
          {booking.overrideReason ? ` (over a clash: ${booking.overrideReason})` : ""}
        </p>
      ) : null}
      {booking.status === "REQUESTED" && booking.overlapping.length > 0 ? (
        <p className={needsOverride ? "banner banner-warn" : "muted"} role={needsOverride ? "note" : undefined}>
          Overlaps{" "}
          {booking.overlapping
            .map((o) => `${o.release?.key ?? (o.team || o.requestedBy)} (${bookingStatusWord(o.status).toLowerCase()}, ${formatWindow(o.start, o.end)})`)
            .join("; ")}
          {needsOverride ? ". Approving it needs an override with a reason." : "."}
        </p>
      ) : null}
      {booking.status === "REQUESTED" || booking.status === "APPROVED" ? (
        <div className="button-row booking-actions">
          {booking.status === "REQUESTED" ? (
            <>
              <label className="inline">
                Reason
                <input value={reason} onChange={(e) => setReason(e.target.value)} disabled={!!controls.reject} />
              </label>
              {needsOverride ? (
                <label className="inline">
                  Override reason
                  <input value={override} onChange={(e) => setOverride(e.target.value)} disabled={!!controls.approve} />
                </label>
              ) : null}
              <button
                type="button"
                disabled={busy || !!approveRefusal}
                title={approveRefusal ?? undefined}
                onClick={async () => done(await approve({ id: booking.id, reason, override: needsOverride ? override : null, expectedVersion }))}
              >
                {needsOverride ? "Approve with override" : "Approve"}
              </button>
              <button
                type="button"
                className="danger"
                disabled={busy || !!rejectRefusal}
                title={rejectRefusal ?? undefined}
                onClick={async () => done(await reject({ id: booking.id, reason, expectedVersion }))}
              >
                Reject
              </button>
            </>
          ) : null}
          <button
            type="button"
            disabled={busy || !!controls.cancel}
            title={controls.cancel ?? undefined}
            onClick={async () => done(await cancel({ id: booking.id, reason, expectedVersion }))}
          >
            Cancel booking
          </button>
        </div>
      ) : null}
      {controls.approve && booking.status === "REQUESTED" ? <p className="muted role-note">{controls.approve}</p> : null}
      {error ? (
        <p className="banner banner-error" role="alert">
          {error}
        </p>
      ) : null}
    </li>
  );
}

export function RequestBooking({
  environments,
  releaseId,
  onRequested,
}: {
  environments: readonly { id: string; name: string }[];
  releaseId?: string;
  onRequested: () => void;
}) {
  const [environmentId, setEnvironmentId] = useState(environments[0]?.id ?? "");
  const [start, setStart] = useState("");
  const [end, setEnd] = useState("");
  const [purpose, setPurpose] = useState("");
  const [team, setTeam] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [requesting, request] = useMutation(RequestBookingMutation);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const from = fromInputValue(start);
    const to = fromInputValue(end);
    if (!from || !to) {
      setError("Give the booking's start and end.");
      return;
    }
    const result = await request({
      input: { environmentId, start: from, end: to, purpose, releaseId: releaseId ?? null, team: releaseId ? "" : team },
    });
    if (result.error) setError(errorText(result.error));
    else {
      setError(null);
      setPurpose("");
      onRequested();
    }
  };
  return (
    <form className="inline-form booking-form" onSubmit={submit} aria-label="Request a booking">
      {environments.length > 1 ? (
        <label>
          Environment
          <select value={environmentId} onChange={(e) => setEnvironmentId(e.target.value)}>
            {environments.map((e) => (
              <option key={e.id} value={e.id}>
                {e.name}
              </option>
            ))}
          </select>
        </label>
      ) : null}
      <label>
        From ({displayZone()})
        <input type="datetime-local" value={start} onChange={(e) => setStart(e.target.value)} required />
      </label>
      <label>
        Until
        <input type="datetime-local" value={end} onChange={(e) => setEnd(e.target.value)} required />
      </label>
      <label>
        Purpose
        <input value={purpose} onChange={(e) => setPurpose(e.target.value)} required />
      </label>
      {releaseId ? null : (
        <label>
          Team
          <input value={team} onChange={(e) => setTeam(e.target.value)} required />
        </label>
      )}
      <button type="submit" disabled={requesting.fetching || !purpose.trim() || !environmentId}>
        Request booking
      </button>
      {error ? (
        <p className="banner banner-error" role="alert">
          {error}
        </p>
      ) : null}
    </form>
  );
}

/** An environment's bookings, read on their own so the card stays light. */
export function EnvironmentBookings({ environment }: { environment: { id: string; name: string } }) {
  const [{ data, error }, refetch] = useQuery({ query: EnvironmentBookingsQuery, variables: { environmentId: environment.id } });
  const reload = () => refetch({ requestPolicy: "network-only" });
  return (
    <div className="env-bookings">
      <div className="section-head">
        <h3>Bookings</h3>
        <ExportLink href={exportHref("bookings", { environmentId: environment.id })} what="bookings" />
      </div>
      {error ? <p className="banner banner-error" role="alert">{errorText(error)}</p> : null}
      {data ? <BookingList bookings={data.bookings} onChanged={reload} /> : <p className="muted">Reading bookings…</p>}
      <RequestBooking environments={[environment]} onRequested={reload} />
    </div>
  );
}

/** A release's bookings, and a request for any environment on its behalf. */
export function ReleaseBookings({ releaseKey, closed }: { releaseKey: string; closed?: string | null }) {
  const [{ data, error }, refetch] = useQuery({ query: ReleaseBookingsQuery, variables: { key: releaseKey } });
  const reload = () => refetch({ requestPolicy: "network-only" });
  const release = data?.release;
  return (
    <section className="card" aria-labelledby="bookings-title">
      <h2 id="bookings-title">Environment bookings</h2>
      {error ? <p className="banner banner-error" role="alert">{errorText(error)}</p> : null}
      {release ? (
        <>
          <BookingList bookings={release.bookings} onChanged={reload} showEnvironment onRelease={releaseKey} />
          {closed ? (
            <p className="muted">{closed}</p>
          ) : (
            <RequestBooking environments={data.environments} releaseId={release.id} onRequested={reload} />
          )}
        </>
      ) : (
        <p className="muted">Reading bookings…</p>
      )}
    </section>
  );
}
