/**
 * A deputy's work: the task tabs (offered, in hand, overdue), what the current state of a
 * report lets this deputy do, and the actions themselves (accept, decline, triage,
 * progress, resolve). Plain JS over the API client, so it is unit-tested without uni-app.
 */
import { ApiError } from './errors.js'

/** Names of the duty kinds of a record (chalicelib/records/duty.py KINDS). */
export const DUTY_KINDS = {
  meetings: '参加会议',
  inspections: '视察调研',
  suggestions: '提出建议',
  contacting_voters: '联系选民',
  group_activities: '小组活动',
}

/** A record's duties of every kind, newest first (at most `limit`). */
export function recentActivities(record, limit = 10) {
  const all = Object.values((record && record.activities) || {}).flat()
  return all.sort((a, b) => String(b.date).localeCompare(String(a.date))).slice(0, limit)
}

/** The tabs of the deputy's workbench and the task statuses each shows. */
export const TASK_TABS = [
  { key: 'offered', label: '待接单', statuses: ['offered'] },
  { key: 'handling', label: '办理中', statuses: ['accepted', 'in_progress'] },
  { key: 'overdue', label: '已超期', statuses: ['overdue'] },
]

/** Report states in which the accepting deputy handles the report (states.HANDLING_STATES). */
export const HANDLING_STATES = ['accepted', 'in_progress', 'second_handling', 'escalated']

/** Which actions each report state allows, as TRANSITIONS in chalicelib/workflow/states.py. */
const ACTION_STATES = {
  reply: HANDLING_STATES,
  transfer: HANDLING_STATES,
  suggestion: ['accepted', 'in_progress', 'second_handling'],
  merge: ['accepted'],
  progress: HANDLING_STATES,
  resolve: HANDLING_STATES,
}

/** The handling actions in the order the task page offers them, with their button texts. */
export const HANDLING_ACTIONS = [
  { key: 'reply', label: '答复群众', title: '答复群众', hint: '答复后，群众将收到通知并可评价' },
  { key: 'transfer', label: '交办部门', title: '交办承办单位', hint: '承办单位将按期限办理并反馈' },
  { key: 'suggestion', label: '转为代表建议', title: '转为代表建议', hint: '作为代表建议提交，群众将收到通知' },
  { key: 'merge', label: '合并到…', title: '合并到同类反映', hint: '与您手中的同一问题合并办理' },
  { key: 'progress', label: '添加进展', title: '添加办理进展', hint: '群众可在进度中看到进展和照片' },
  { key: 'resolve', label: '办结反映', title: '办结', hint: '办结后，群众将收到通知并评价' },
]

export const DEFAULT_DEADLINE_DAYS = 7
const TAKEN_MESSAGE = '该任务已被其他代表接单'

/**
 * What this deputy may do with the report now: {accept, decline, handling: [keys]}.
 * `task` is the deputy's own task line when known (its status tells an open offer).
 */
export function allowedActions(report, deputyId, task = null) {
  const none = { accept: false, decline: false, handling: [] }
  if (!report || !deputyId) return none
  if (report.status === 'offered') {
    const open = task ? task.status === 'offered' : isCandidate(report, deputyId)
    return { accept: open, decline: open, handling: [] }
  }
  if (report.accepted_by !== deputyId) return none
  const handling = HANDLING_ACTIONS.map((a) => a.key).filter((key) => ACTION_STATES[key].includes(report.status))
  return { accept: false, decline: false, handling }
}

function isCandidate(report, deputyId) {
  return (report.candidates || []).some((c) => c.deputy_id === deputyId)
}

/** Why the report was offered to this deputy (the candidate's reasons), or []. */
export function matchReasons(report, deputyId) {
  const mine = (report && report.candidates ? report.candidates : []).filter((c) => c.deputy_id === deputyId)
  return [...new Set(mine.flatMap((c) => c.reasons || []))]
}

/**
 * The message for a lost accept: the server names the winner when it knows ("该反映已由
 * 王建国代表接单"); otherwise a generic line. Other errors keep their own message.
 */
export function acceptFailure(error) {
  if (!(error instanceof ApiError) || error.status !== 409) return { taken: false, message: error.message }
  if (error.code === 'offer_closed') return { taken: false, message: error.message }
  const named = /由(.+?)接单/.test(error.message || '')
  return { taken: true, message: named ? error.message : TAKEN_MESSAGE }
}

/** The body of POST /reports/{id}/triage for a form, only with the fields its action takes. */
export function triageBody(action, form) {
  const note = (form.note || '').trim()
  if (action === 'transfer') {
    const body = { action, department_id: form.department_id || '', deadline_days: Number(form.deadline_days) }
    if (!Number.isInteger(body.deadline_days)) body.deadline_days = form.deadline_days
    if (note) body.note = note
    return body
  }
  if (action === 'merge') return { action, into: form.into || '' }
  return { action, note }
}

/** "刚刚", "25分钟前", "3小时前", "2天前" for an ISO time. */
export function ageText(iso, now = Date.now()) {
  if (!iso) return ''
  const then = Date.parse(iso)
  if (Number.isNaN(then)) return ''
  const minutes = Math.max(0, Math.floor((now - then) / 60000))
  if (minutes < 1) return '刚刚'
  if (minutes < 60) return `${minutes}分钟前`
  const hours = Math.floor(minutes / 60)
  if (hours < 24) return `${hours}小时前`
  return `${Math.floor(hours / 24)}天前`
}

/** "2026-03-05 14:30" (Beijing time) for an ISO time. */
export function dateTimeText(iso) {
  if (!iso) return ''
  const then = Date.parse(iso)
  if (Number.isNaN(then)) return ''
  const beijing = new Date(then + 8 * 3600 * 1000)
  const pad = (n) => String(n).padStart(2, '0')
  return `${beijing.getUTCFullYear()}-${pad(beijing.getUTCMonth() + 1)}-${pad(beijing.getUTCDate())} ${pad(
    beijing.getUTCHours(),
  )}:${pad(beijing.getUTCMinutes())}`
}

/** Whether an ISO deadline has passed. */
export function isPast(iso, now = Date.now()) {
  const then = Date.parse(iso || '')
  return !Number.isNaN(then) && then < now
}

function sortNewest(items) {
  return [...items].sort((a, b) => String(b.updated_at || '').localeCompare(String(a.updated_at || '')))
}

export function createTasks({ api }) {
  const enc = encodeURIComponent
  const stations = new Map()

  /** One status's tasks: {items, counts, next_cursor}; a status the server does not know yet is []. */
  async function byStatus(status, cursor) {
    try {
      const answer = await api.get('/tasks', { query: { status, cursor } })
      return { items: answer.items || [], counts: answer.counts || null, next_cursor: answer.next_cursor || null }
    } catch (error) {
      if (error instanceof ApiError && error.status === 422 && error.field === 'status')
        return { items: [], counts: null, next_cursor: null, unsupported: true }
      throw error
    }
  }

  /**
   * A tab's tasks, newest first, with the counts per tab when the server gives them.
   * A tab over several statuses pages only on its first status' cursor (the others come whole).
   */
  async function tab(key, cursor) {
    const spec = TASK_TABS.find((t) => t.key === key) || TASK_TABS[0]
    const answers = await Promise.all(spec.statuses.map((s, i) => (cursor && i > 0 ? null : byStatus(s, cursor))))
    const given = answers.filter(Boolean)
    const counts = given.map((a) => a.counts).find(Boolean) || null
    return {
      items: sortNewest(given.flatMap((a) => a.items)),
      counts: counts ? tabCounts(counts) : null,
      next_cursor: given[0].next_cursor,
      unsupported: given.every((a) => a.unsupported),
    }
  }

  return {
    tab,
    /** Counts per tab: the server's when it gives them, else counted from the first pages. */
    async counts() {
      const answers = await Promise.all(TASK_TABS.map((t) => tab(t.key)))
      const fromServer = answers.map((a) => a.counts).find(Boolean)
      if (fromServer) return fromServer
      return Object.fromEntries(TASK_TABS.map((t, i) => [t.key, answers[i].items.length]))
    },
    report: (id) => api.get(`/reports/${enc(id)}`),
    /** The deputy's own task line of a report (its offer status), or null. */
    async taskOf(reportId) {
      const answer = await byStatus('offered')
      return answer.items.find((t) => t.report_id === reportId) || null
    },
    accept: (id) => api.post(`/reports/${enc(id)}/accept`, {}),
    decline: (id, reason) => api.post(`/reports/${enc(id)}/decline`, { reason: (reason || '').trim() }),
    triage: (id, action, form) => api.post(`/reports/${enc(id)}/triage`, triageBody(action, form)),
    progress: (id, note, photos = []) =>
      api.post(`/reports/${enc(id)}/progress`, { note: (note || '').trim(), photos }),
    resolve: (id, note, photos = []) => {
      const body = { note: (note || '').trim() }
      if (photos.length) body.photos = photos
      return api.post(`/reports/${enc(id)}/resolve`, body)
    },
    /** The deputy's other open reports a duplicate may be merged into (accepted or in progress). */
    async mergeTargets(exceptId) {
      const answer = await tab('handling')
      return answer.items.filter((t) => t.report_id !== exceptId)
    },
    /** A station's name (GET /stations/{id}, public), asked once per station; '' when unknown. */
    stationName(id) {
      if (!id) return Promise.resolve('')
      if (!stations.has(id))
        stations.set(
          id,
          api
            .get(`/stations/${enc(id)}`, { auth: false })
            .then((answer) => (answer.station || answer).name || '')
            .catch(() => {
              stations.delete(id)
              return ''
            }),
        )
      return stations.get(id)
    },
    record: (deputyId) => api.get(`/deputies/${enc(deputyId)}/record`),
  }
}

/** The server's counts keyed by status, folded into the tabs' keys. */
export function tabCounts(counts) {
  const out = {}
  for (const t of TASK_TABS) {
    if (typeof counts[t.key] === 'number') out[t.key] = counts[t.key]
    else out[t.key] = t.statuses.reduce((sum, s) => sum + (Number(counts[s]) || 0), 0)
  }
  return out
}

/**
 * The departments a report may be handed to: the district's and the city-wide ones, those
 * covering the report's category first (`suggested`), from `GET /departments`.
 */
export async function departments(api, districtId, category) {
  const query = {}
  if (districtId) query.district = districtId
  if (category) query.category = category
  const answer = await api.get('/departments', { query })
  return { items: answer.items || [] }
}
