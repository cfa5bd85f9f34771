/**
 * Liaison stations for the citizen pages: one station with its deputies, the nearest ones
 * to a point, the station last used (remembered on the device), and the station picked on
 * the list page handed back to the report form.
 */

/** The demo city's centre (Qingdao), searched around when the device gives no location. */
export const DEMO_CENTRE = { lat: 36.0671, lng: 120.3826 }
/** The most the backend's nearest query returns: the browse list when there is no location. */
export const BROWSE_LIMIT = 50

const REMEMBERED = 'ssp.station'
const PICKED = 'ssp.station.picked'
const KEPT = 'ssp.station.kept'

export function createStations({ api, storage, now = () => Date.now() }) {
  return {
    /**
     * One station. The last one read is kept on the device: without network (or with the
     * server failing) the same station comes from there, so a saved draft stays on screen.
     */
    async get(id) {
      try {
        const station = await api.get(`/stations/${encodeURIComponent(id)}`, { auth: false })
        if (station && station.id) storage.set(KEPT, station)
        return station
      } catch (error) {
        const kept = storage.get(KEPT)
        if (error && error.retryable && kept && kept.id === id) return kept
        throw error
      }
    },
    async nearest({ lat, lng }, limit = 10) {
      const answer = await api.get('/stations', { auth: false, query: { lat, lng, limit } })
      return (answer && answer.stations) || []
    },
    remember(station) {
      if (station && station.id) storage.set(REMEMBERED, { id: station.id, name: station.name || '' })
    },
    remembered: () => storage.get(REMEMBERED),
    forget: () => storage.remove(REMEMBERED),
    /** The list page's choice, for the report page to take on its next show. */
    pick(station) {
      storage.set(PICKED, { id: station.id, name: station.name || '', at: now() })
      this.remember(station)
    },
    takePicked() {
      const picked = storage.get(PICKED)
      if (picked) storage.remove(PICKED)
      return picked
    },
  }
}

/** The station id a page was opened with: a QR code's `scene`, or `station`. */
export function stationIdFromQuery(query) {
  if (!query) return ''
  let raw = query.scene !== undefined && query.scene !== '' ? query.scene : query.station
  if (raw === undefined || raw === null) return ''
  raw = String(raw)
  try {
    raw = decodeURIComponent(raw)
  } catch (error) {
    // a malformed escape: keep it as it came, the station look-up answers 404
  }
  return raw.trim()
}

/** Stations whose name or address holds every word of the query (all of them for none). */
export function filterStations(list, query) {
  const words = String(query || '')
    .toLowerCase()
    .split(/\s+/)
    .filter(Boolean)
  if (!words.length) return list
  return list.filter((station) => {
    const hay = `${station.name || ''} ${station.address || ''} ${station.id || ''}`.toLowerCase()
    return words.every((word) => hay.includes(word))
  })
}
