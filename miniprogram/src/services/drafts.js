/**
 * Drafts: what a citizen has typed for a station, kept in storage at every change so that
 * closing the mini-program or a failed send loses nothing. Each draft carries one
 * Idempotency-Key from its creation until the report is stored, so a retry after a lost
 * answer files the report once.
 */

const PREFIX = 'ssp.draft.'

export function newIdempotencyKey(random = Math.random, now = Date.now) {
  let tail = ''
  for (let i = 0; i < 16; i += 1) tail += Math.floor(random() * 36).toString(36)
  return `d-${now().toString(36)}-${tail}`
}

export function emptyDraft(stationId, newKey = newIdempotencyKey) {
  return {
    stationId: stationId || '',
    category: '',
    text: '',
    photos: [],
    anonymous: false,
    phoneCode: '',
    location: null,
    idempotencyKey: newKey(),
    attempts: 0,
  }
}

export function createDrafts({ storage, newKey = newIdempotencyKey, now = () => Date.now() }) {
  const key = (stationId) => PREFIX + (stationId || 'none')
  return {
    load(stationId) {
      const saved = storage.get(key(stationId))
      return saved && saved.idempotencyKey
        ? { ...emptyDraft(stationId, newKey), ...saved }
        : emptyDraft(stationId, newKey)
    },
    save(draft) {
      // a phone code is single-use and short-lived: never keep it past this session
      const kept = { ...draft }
      delete kept.phoneCode
      storage.set(key(draft.stationId), { ...kept, photos: draft.photos.map(persistedPhoto), savedAt: now() })
    },
    clear(stationId) {
      storage.remove(key(stationId))
    },
  }
}

function persistedPhoto(photo) {
  const { id, path, size, type, key, state } = photo
  return { id, path, size, type, key: key || '', state: state === 'done' ? 'done' : 'failed' }
}

/** The body of POST /reports for a draft: only confirmed photo keys are sent. */
export function reportBody(draft) {
  const body = {
    station_id: draft.stationId,
    category: draft.category,
    text: draft.text.trim(),
    photos: draft.photos.filter((p) => p.key && p.state === 'done').map((p) => p.key),
    anonymous: Boolean(draft.anonymous),
  }
  if (draft.location) body.location = { lat: draft.location.lat, lng: draft.location.lng }
  if (draft.phoneCode) body.phone_code = draft.phoneCode
  return body
}
