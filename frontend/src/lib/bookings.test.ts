import { describe, expect, it } from "vitest";
import { approvedClashes, bookingControls, bookingStatusWord } from "./bookings";

const requested = { id: "b1", status: "REQUESTED", requestedBy: "ada", overlapping: [] };
const manager = { refusal: null, user: "grace" };
const viewer = { refusal: "Only release managers and administrators can make changes.", user: "ada" };

describe("booking controls", () => {
  it("let a release manager decide a requested booking", () => {
    expect(bookingControls(requested, manager)).toEqual({ approve: null, reject: null, cancel: null });
  });

  it("keep a viewer from deciding but let them cancel their own request", () => {
    const controls = bookingControls(requested, viewer);
    expect(controls.approve).toBe(viewer.refusal);
    expect(controls.reject).toBe(viewer.refusal);
    expect(controls.cancel).toBeNull();
    expect(bookingControls({ ...requested, requestedBy: "someone" }, viewer).cancel).toMatch(/requester or a release manager/);
  });

  it("say a decided booking is decided, and let an approved one be cancelled", () => {
    const approved = bookingControls({ ...requested, status: "APPROVED" }, manager);
    expect(approved.approve).toBe("This booking is already approved.");
    expect(approved.cancel).toBeNull();
    expect(bookingControls({ ...requested, status: "CANCELLED" }, manager).cancel).toBe("This booking is cancelled.");
  });
});

describe("clashes before approving", () => {
  it("are the approved bookings among the overlapping ones", () => {
    const overlapping = [{ id: "b2", status: "REQUESTED" }, { id: "b3", status: "APPROVED" }];
    expect(approvedClashes({ overlapping }).map((b) => b.id)).toEqual(["b3"]);
    expect(approvedClashes({ overlapping: [] })).toEqual([]);
  });

  it("name statuses in words", () => {
    expect(bookingStatusWord("CANCELLED")).toBe("Cancelled");
    expect(bookingStatusWord("SOMETHING_NEW")).not.toMatch(/_/);
  });
});
