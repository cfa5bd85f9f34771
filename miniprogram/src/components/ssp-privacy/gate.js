/**
 * The privacy gate: before the first use of location, photos or the phone number, the
 * mounted <ssp-privacy> popup (if any) asks for consent. Components that use those (the
 * photo picker) call ensurePrivacy() without knowing which page shows the popup.
 */
import { privacy } from '@/platform/index.js'

let presenter = null

/** Called by <ssp-privacy> when mounted; returns the function that unregisters it. */
export function registerPresenter(present) {
  presenter = present
  return () => {
    if (presenter === present) presenter = null
  }
}

/** Resolves true when the user has agreed (or nothing asks), false when refused. */
export async function ensurePrivacy() {
  if (!presenter) return true
  let needed = false
  try {
    needed = await privacy.needsAuthorization()
  } catch (error) {
    needed = false
  }
  return needed ? presenter() : true
}
