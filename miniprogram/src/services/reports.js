/**
 * Sending a draft as a report: one Idempotency-Key per draft, the draft kept until the
 * server has stored the report, and the server's field errors handed back to the page.
 */
import { ApiError } from './errors.js'
import { reportBody } from './drafts.js'

export function createReports({ api, drafts }) {
  return {
    /**
     * Send a draft. Resolves {report} when stored (also when a retry finds it stored),
     * {alreadySent: true} when an earlier attempt of this draft was stored with other content;
     * rejects with ApiError otherwise, the draft kept for the next tap.
     */
    async submit(draft) {
      const sending = { ...draft, attempts: (draft.attempts || 0) + 1 }
      drafts.save(sending)
      let report
      try {
        report = await api.post('/reports', reportBody(sending), {
          headers: { 'Idempotency-Key': sending.idempotencyKey },
        })
      } catch (error) {
        if (error instanceof ApiError && error.status === 409 && error.code === 'idempotency_key_reused') {
          drafts.clear(sending.stationId)
          return { alreadySent: true }
        }
        throw error
      }
      drafts.clear(sending.stationId)
      return { report }
    },
    mine: (cursor) => api.get('/reports/mine', { query: { cursor, limit: 20 } }),
    get: (id) => api.get(`/reports/${encodeURIComponent(id)}`),
    evaluate: (id, result, comment) =>
      api.post(`/reports/${encodeURIComponent(id)}/evaluation`, comment ? { result, comment } : { result }),
  }
}

/** Which part of the report form a server error belongs to. */
export function formSection(field) {
  if (!field) return 'form'
  if (field.startsWith('photos')) return 'photos'
  if (field.startsWith('location') || field === 'address') return 'place'
  if (field === 'station_id') return 'station'
  if (field === 'phone_code') return 'phone'
  if (field === 'text' || field === 'category' || field === 'anonymous') return field
  return 'form'
}
