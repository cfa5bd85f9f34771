import { describe, expect, it } from 'vitest'
import { ApiError } from '../src/services/errors.js'
import { createDrafts } from '../src/services/drafts.js'
import { createReports, formSection } from '../src/services/reports.js'
import { memoryStorage } from '../src/services/storage.js'

/** A server that stores by Idempotency-Key, and can lose its answer like a dropped connection. */
function fakeServer() {
  const stored = new Map()
  let loseNext = false
  return {
    stored,
    loseNextAnswer: () => (loseNext = true),
    api: {
      post: async (path, body, { headers }) => {
        const key = headers['Idempotency-Key']
        const prior = stored.get(key)
        if (prior && prior.text !== body.text)
          throw new ApiError({ status: 409, code: 'idempotency_key_reused', field: 'Idempotency-Key', message: '…' })
        if (!prior) stored.set(key, { id: `R${stored.size + 1}`, ...body })
        if (loseNext) {
          loseNext = false
          throw new ApiError({ status: 0 })
        }
        return stored.get(key)
      },
    },
  }
}

describe('sending a report', () => {
  it('files once when the first answer is lost and the citizen taps again', async () => {
    const server = fakeServer()
    const drafts = createDrafts({ storage: memoryStorage() })
    const reports = createReports({ api: server.api, drafts })
    const draft = { ...drafts.load('S01'), category: 'municipal.road', text: '路面塌陷' }
    server.loseNextAnswer()
    await expect(reports.submit(draft)).rejects.toMatchObject({ retryable: true })
    const kept = drafts.load('S01')
    expect(kept.text).toBe('路面塌陷')
    expect(kept.attempts).toBe(1)
    const { report } = await reports.submit(kept)
    expect(report.id).toBe('R1')
    expect(server.stored.size).toBe(1)
    expect(drafts.load('S01').text).toBe('')
  })

  it('keeps the draft and its key after a refusal, so the corrected text goes under the same key', async () => {
    const drafts = createDrafts({ storage: memoryStorage() })
    const keys = []
    let refuse = true
    const api = {
      post: async (path, body, { headers }) => {
        keys.push(headers['Idempotency-Key'])
        if (refuse) {
          refuse = false
          throw new ApiError({ status: 422, code: 'risky_content', field: 'text', message: '内容含有违规信息' })
        }
        return { id: 'R9' }
      },
    }
    const reports = createReports({ api, drafts })
    const draft = { ...drafts.load('S01'), category: 'c', text: 'bad' }
    await expect(reports.submit(draft)).rejects.toMatchObject({ field: 'text' })
    await reports.submit({ ...drafts.load('S01'), text: 'good' })
    expect(keys[0]).toBe(keys[1])
  })

  it('tells when an earlier attempt was stored with other content', async () => {
    const server = fakeServer()
    const drafts = createDrafts({ storage: memoryStorage() })
    const reports = createReports({ api: server.api, drafts })
    const draft = { ...drafts.load('S01'), category: 'c', text: 'first' }
    server.loseNextAnswer()
    await reports.submit(draft).catch(() => {})
    expect(await reports.submit({ ...drafts.load('S01'), text: 'edited' })).toEqual({ alreadySent: true })
    expect(server.stored.size).toBe(1)
  })

  it('places each server field at its part of the form', () => {
    expect(formSection('photos[2]')).toBe('photos')
    expect(formSection('location.lat')).toBe('place')
    expect(formSection('text')).toBe('text')
    expect(formSection('station_id')).toBe('station')
    expect(formSection(null)).toBe('form')
  })
})
