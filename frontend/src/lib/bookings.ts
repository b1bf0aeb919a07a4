// What may be done to an environment booking, and what approving it would clash
// with, so controls are disabled with their reason and a clash is shown before the
// click. The server checks every decision again; this only draws.

export interface BookingLike {
  id: string;
  status: string;
  requestedBy: string;
  overlapping: readonly { id: string; status: string }[];
}

export interface Viewer {
  /** null when the role may decide bookings (release managers, admins); else why not. */
  refusal: string | null;
  user: string | null;
}

/** null: allowed; else the reason the control is disabled. */
export interface BookingControls {
  approve: string | null;
  reject: string | null;
  cancel: string | null;
}

const DECIDED: Record<string, string> = {
  APPROVED: "already approved",
  REJECTED: "rejected",
  CANCELLED: "cancelled",
};

export function bookingControls(booking: BookingLike, viewer: Viewer): BookingControls {
  const undecided = booking.status === "REQUESTED";
  const decided = undecided ? null : `This booking is ${DECIDED[booking.status] ?? booking.status.toLowerCase()}.`;
  const open = booking.status === "REQUESTED" || booking.status === "APPROVED";
  const own = viewer.user !== null && viewer.user === booking.requestedBy;
  return {
    approve: decided ?? viewer.refusal,
    reject: decided ?? viewer.refusal,
    cancel: !open
      ? `This booking is ${DECIDED[booking.status] ?? booking.status.toLowerCase()}.`
      : own || viewer.refusal === null
        ? null
        : "Only its requester or a release manager can cancel a booking.",
  };
}

/** Approved bookings of the same environment at the same time: approving needs an override. */
export function approvedClashes<B extends { status: string }>(booking: { overlapping: readonly B[] }): B[] {
  return booking.overlapping.filter((other) => other.status === "APPROVED");
}

const STATUS_WORDS: Record<string, string> = {
  REQUESTED: "Requested",
  APPROVED: "Approved",
  REJECTED: "Rejected",
  CANCELLED: "Cancelled",
};

export function bookingStatusWord(status: string): string {
  return STATUS_WORDS[status] ?? status.charAt(0) + status.slice(1).toLowerCase().replace(/_/g, " ");
}

export function bookingTone(status: string): "ok" | "warn" | "bad" | "muted" {
  return status === "APPROVED" ? "ok" : status === "REQUESTED" ? "warn" : status === "REJECTED" ? "bad" : "muted";
}
