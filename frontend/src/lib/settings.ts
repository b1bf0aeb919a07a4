// The reader's settings, kept in this browser: for now the time zone times are shown in.
import { isZone, setDisplayZone } from "./time";

const ZONE_KEY = "heatshield.timeZone";

export function browserZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
}

/** The zone chosen before in this browser, else the browser's own. */
export function loadZone(): string {
  let saved: string | null = null;
  try {
    saved = localStorage.getItem(ZONE_KEY);
  } catch {
    saved = null;
  }
  const chosen = saved && isZone(saved) ? saved : browserZone();
  setDisplayZone(chosen);
  return chosen;
}

export function saveZone(zone: string): void {
  setDisplayZone(zone);
  try {
    localStorage.setItem(ZONE_KEY, zone);
  } catch {
    // private windows may refuse storage; the choice still holds until reload
  }
}

/** Zones offered in the setting: UTC, the browser's, and the common ones. */
export function zoneChoices(current: string): string[] {
  const common = ["UTC", "Europe/London", "Europe/Berlin", "Europe/Paris", "America/New_York", "America/Chicago", "America/Los_Angeles", "Asia/Kolkata", "Asia/Singapore", "Asia/Tokyo", "Australia/Sydney"];
  return [...new Set([current, browserZone(), ...common])];
}
