/**
 * The privacy gate: before the first use of location, photos or the phone number, the
 * <ssp-privacy> popup of the page in front asks for consent. Components that use those (the
 * photo picker) call ensurePrivacy() without knowing which page shows the popup. Tab pages
 * stay mounted, each with its own popup: the one asking must be the current page's, or it
 * opens hidden on a page in the background and the tap seems to do nothing.
 */
import { privacy } from '@/platform/index.js'

let presenters = []

/**
 * Called by <ssp-privacy> when mounted, with whether its page is the one in front;
 * returns the function that unregisters it.
 */
export function registerPresenter(present, isCurrent = () => false) {
  const entry = { present, isCurrent }
  presenters.push(entry)
  return () => {
    presenters = presenters.filter((e) => e !== entry)
  }
}

function presenter() {
  const current = presenters.filter((e) => {
    try {
      return e.isCurrent()
    } catch (error) {
      return false
    }
  })
  const chosen = current.length ? current[current.length - 1] : presenters[presenters.length - 1]
  return chosen ? chosen.present : null
}

/** Resolves true when the user has agreed (or nothing asks), false when refused. */
export async function ensurePrivacy() {
  const present = presenter()
  if (!present) return true
  let needed = false
  try {
    needed = await privacy.needsAuthorization()
  } catch (error) {
    needed = false
  }
  return needed ? present() : true
}

/** The page a component is on: the nearest ancestor that is a page (or the root). */
export function pageOf(instance) {
  let top = instance
  for (let i = instance; i; i = i.parent) {
    if (i.proxy && i.proxy.$page && i.proxy.$page.route) return i.proxy
    top = i
  }
  return top ? top.proxy : null
}

/** Whether `page` (from pageOf) is the page in front. */
export function isFrontPage(page) {
  const pages = typeof getCurrentPages === 'function' ? getCurrentPages() : []
  const front = pages[pages.length - 1]
  return Boolean(page && front && (front === page || front.$vm === page))
}
