/**
 * Staff and handlers on the phone: the scopes a staff member may look at, the headline
 * figures of /stats, the work lists (overdue, review, unmatched), moderation, assigning,
 * and a department handler's work orders. Plain JS over the API client.
 */
import { ApiError } from './errors.js'

const STAFF_ROLES = ['city_staff', 'district_staff', 'station_staff']

/** The headline figures of /stats, in the order the staff home shows them. */
export const HEADLINE_FIGURES = [
  { key: 'closure_rate', label: '办结率', kind: 'rate' },
  { key: 'avg_days_to_close', label: '平均办结时长', kind: 'days' },
  { key: 'one_time_closure_rate', label: '一次办结率', kind: 'rate' },
  { key: 'satisfaction', label: '满意率', kind: 'rate' },
  { key: 'overdue', label: '超期未办结', kind: 'count' },
  { key: 'deputy_participation', label: '代表参与率', kind: 'rate' },
]

/** The shown value of a figure: "86.5%", "3.2 天", "4 件", or "—" when there is no denominator. */
export function figureText(kind, value) {
  if (value === null || value === undefined || Number.isNaN(Number(value))) return '—'
  const n = Number(value)
  if (kind === 'rate') return `${(n * 100).toFixed(1).replace(/\.0$/, '')}%`
  if (kind === 'days') return `${n.toFixed(1).replace(/\.0$/, '')} 天`
  return `${n} 件`
}

/** The headline rows of a /stats answer: label (the server's when given), value text, definition. */
export function headline(stats) {
  const definitions = (stats && stats.definitions) || {}
  return HEADLINE_FIGURES.map((f) => ({
    key: f.key,
    label: f.kind === 'days' ? '平均办结时长' : (definitions[f.key] && definitions[f.key].label) || f.label,
    value: figureText(f.kind, stats ? stats[f.key] : null),
    definition: (definitions[f.key] && definitions[f.key].definition) || '',
  }))
}

/** This month so far, in Beijing days: {from: 'YYYY-MM-01', to: today}. */
export function monthPeriod(now = Date.now()) {
  const beijing = new Date(now + 8 * 3600 * 1000)
  const pad = (n) => String(n).padStart(2, '0')
  const month = `${beijing.getUTCFullYear()}-${pad(beijing.getUTCMonth() + 1)}`
  return { from: `${month}-01`, to: `${month}-${pad(beijing.getUTCDate())}` }
}

export function isStaff(user) {
  return Boolean(user && (user.roles || []).some((r) => STAFF_ROLES.includes(r)))
}

/** The caller's widest scope (as the server's own_scope), or null when bound to none. */
export function ownScope(user) {
  const roles = (user && user.roles) || []
  if (roles.includes('city_staff') && user.city_id) return `city:${user.city_id}`
  if (roles.includes('district_staff') && user.district_id) return `district:${user.district_id}`
  if (roles.includes('station_staff') && user.station_id) return `station:${user.station_id}`
  return null
}

const KIND_NAMES = { city: '全市', district: '全区', station: '本站' }

/**
 * The scopes the picker offers, limited to the role: station staff their station; district
 * staff the district and its stations; city staff the city and its districts. `names`
 * gives known names: {stations: [{id, name}], districts: [{id, name}]} (children of the own scope).
 */
export function scopeOptions(user, names = {}) {
  const own = ownScope(user)
  if (!own) return []
  const [kind, ident] = own.split(':')
  const label = (k, id, name) => (name ? `${name}` : `${KIND_NAMES[k]}（${id}）`)
  const options = [
    {
      scope: own,
      label:
        kind === 'station'
          ? label('station', ident, names.ownName)
          : `${KIND_NAMES[kind]}${names.ownName ? `（${names.ownName}）` : ''}`,
    },
  ]
  if (kind === 'district')
    for (const s of names.stations || [])
      options.push({ scope: `station:${s.id}`, label: label('station', s.id, s.name) })
  if (kind === 'city')
    for (const d of names.districts || [])
      options.push({ scope: `district:${d.id}`, label: label('district', d.id, d.name) })
  return options
}

/** Stations of a district known from its /stats answer (by_station) and its deputies' rows. */
export function stationsFrom(stats, deputies = []) {
  const found = new Map()
  for (const row of (stats && stats.by_station) || []) if (row.station_id) found.set(row.station_id, row.name || '')
  for (const d of deputies) if (d.station_id && !found.get(d.station_id)) found.set(d.station_id, d.station_name || '')
  return [...found].map(([id, name]) => ({ id, name })).sort((a, b) => a.id.localeCompare(b.id))
}

/**
 * Districts of a city. No route lists a city's districts yet (the scopes table holds
 * them); until one does, this directory (devstack/demo.json "districts") stands in.
 */
export const DISTRICT_DIRECTORY = [
  { id: 'shinan', name: '市南区', city_id: 'qingdao' },
  { id: 'huangdao', name: '黄岛区', city_id: 'qingdao' },
]
export const CITY_NAMES = { qingdao: '青岛市' }

export function districtsOf(cityId) {
  return DISTRICT_DIRECTORY.filter((d) => d.city_id === cityId)
}

export function districtName(id) {
  const found = DISTRICT_DIRECTORY.find((d) => d.id === id)
  return found ? found.name : ''
}

/** "12小时" / "3天5小时" for a count of hours. */
export function hoursText(hours) {
  const h = Math.max(0, Math.floor(Number(hours) || 0))
  if (h < 1) return '不到1小时'
  if (h < 24) return `${h}小时`
  const rest = h % 24
  return rest ? `${Math.floor(h / 24)}天${rest}小时` : `${Math.floor(h / 24)}天`
}

export function createStaff({ api }) {
  const enc = encodeURIComponent
  const list = (name) => (scope, cursor) =>
    api.get(`/staff/${name}`, { query: { scope, cursor, limit: 20 } }).then((answer) => ({
      items: answer.items || [],
      next_cursor: answer.next_cursor || null,
    }))
  return {
    stats: (scope, period = monthPeriod()) => api.get('/stats', { query: { scope, from: period.from, to: period.to } }),
    overdue: list('overdue'),
    review: list('review'),
    unmatched: list('unmatched'),
    /** The deputies of a district or station, for assigning ([] when the list is not readable). */
    async deputies(scope) {
      try {
        const answer = await api.get('/staff/deputies', { query: { scope } })
        return answer.items || answer.deputies || []
      } catch (error) {
        if (error instanceof ApiError && error.status === 404 && !error.field) return []
        throw error
      }
    },
    /** Approve ("pass") or refuse ("reject", a reason required) a report held by the content check. */
    moderate: (id, result, note) => {
      const body = { result }
      if ((note || '').trim()) body.note = note.trim()
      return api.post(`/reports/${enc(id)}/moderation`, body)
    },
    assign: (id, deputyId) => api.post(`/reports/${enc(id)}/assign`, { deputy_id: deputyId }),
    /** A handler's work orders (GET /tasks for the handler role), with paging when given. */
    orders: (cursor) =>
      api.get('/tasks', { query: { cursor } }).then((answer) => ({
        items: answer.items || [],
        next_cursor: answer.next_cursor || null,
        counts: answer.counts || null,
      })),
    report: (id) => api.get(`/reports/${enc(id)}`),
    progress: (id, note, photos = []) =>
      api.post(`/reports/${enc(id)}/progress`, { note: (note || '').trim(), photos }),
    resolve: (id, note, photos = []) => {
      const body = { note: (note || '').trim() }
      if (photos.length) body.photos = photos
      return api.post(`/reports/${enc(id)}/resolve`, body)
    },
  }
}
