/**
 * Display formatting shared by the pages: times in Beijing time (the API gives ISO 8601 UTC,
 * with microseconds, which not every mini-program JS engine parses), who did a timeline
 * step, distances.
 */

const ISO = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$/
const BEIJING_OFFSET_MIN = 8 * 60

/** Milliseconds since the epoch of an ISO 8601 time (no zone = UTC), or NaN. */
export function parseIso(value) {
  const match = ISO.exec(String(value || '').trim())
  if (!match) return NaN
  const [, y, mo, d, h, mi, s = '0', zone = 'Z'] = match
  let offset = 0
  if (zone !== 'Z') {
    const sign = zone[0] === '-' ? -1 : 1
    const digits = zone.slice(1).replace(':', '')
    offset = sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2)))
  }
  return Date.UTC(+y, +mo - 1, +d, +h, +mi, +s) - offset * 60000
}

const pad = (n) => String(n).padStart(2, '0')

/** "YYYY-MM-DD HH:mm" in Beijing time; '' for a missing or unreadable value. */
export function formatBeijing(value) {
  const ms = parseIso(value)
  if (Number.isNaN(ms)) return ''
  const t = new Date(ms + BEIJING_OFFSET_MIN * 60000)
  return `${t.getUTCFullYear()}-${pad(t.getUTCMonth() + 1)}-${pad(t.getUTCDate())} ${pad(t.getUTCHours())}:${pad(t.getUTCMinutes())}`
}

const ACTORS = {
  citizen: '群众',
  deputy: '代表',
  station_staff: '工作人员',
  district_staff: '工作人员',
  city_staff: '工作人员',
  handler: '承办单位',
  system: '系统',
}

/** Who did a timeline step, in Chinese (an unknown role is shown as given). */
export function actorName(role) {
  return ACTORS[role] || role || ''
}

/** Timeline steps newest first (by seq, else by time). */
export function newestFirst(steps) {
  return [...(steps || [])].sort((a, b) => (b.seq || 0) - (a.seq || 0) || parseIso(b.at) - parseIso(a.at))
}

/** A distance in metres as a citizen reads it: "350 米", "1.2 公里". */
export function formatDistance(metres) {
  if (metres === undefined || metres === null || Number.isNaN(Number(metres))) return ''
  const m = Number(metres)
  if (m < 1000) return `${Math.round(m)} 米`
  return `${(m / 1000).toFixed(m < 10000 ? 1 : 0)} 公里`
}
