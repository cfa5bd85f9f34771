import { describe, expect, it } from 'vitest'
import { createDrafts, newIdempotencyKey, reportBody } from '../src/services/drafts.js'
import { memoryStorage } from '../src/services/storage.js'

describe('drafts', () => {
  it('gives each new draft its own idempotency key that the server accepts', () => {
    const a = newIdempotencyKey()
    const b = newIdempotencyKey()
    expect(a).not.toBe(b)
    expect(a).toMatch(/^[A-Za-z0-9_-]{8,64}$/)
  })

  it('keeps a draft and its key across a restart, without the one-time phone code', () => {
    const storage = memoryStorage()
    const drafts = createDrafts({ storage })
    const draft = { ...drafts.load('S01'), text: '路灯不亮', category: 'municipal.streetlight', phoneCode: 'once' }
    drafts.save(draft)
    const again = createDrafts({ storage }).load('S01')
    expect(again.text).toBe('路灯不亮')
    expect(again.idempotencyKey).toBe(draft.idempotencyKey)
    expect(again.phoneCode).toBe('')
  })

  it('keeps drafts of different stations apart and clears one', () => {
    const drafts = createDrafts({ storage: memoryStorage() })
    drafts.save({ ...drafts.load('S01'), text: 'a' })
    drafts.save({ ...drafts.load('S02'), text: 'b' })
    drafts.clear('S01')
    expect(drafts.load('S01').text).toBe('')
    expect(drafts.load('S02').text).toBe('b')
  })

  it('remembers uploaded photos as uploaded and the rest as to be retried', () => {
    const drafts = createDrafts({ storage: memoryStorage() })
    const photos = [
      { id: '1', path: 'a', size: 1, type: 'image/jpeg', key: 'uploads/k1', state: 'done', progress: 100 },
      { id: '2', path: 'b', size: 1, type: 'image/jpeg', key: '', state: 'uploading', progress: 40 },
    ]
    drafts.save({ ...drafts.load('S01'), photos })
    expect(drafts.load('S01').photos.map((p) => p.state)).toEqual(['done', 'failed'])
  })

  it('sends only confirmed photo keys and a trimmed text', () => {
    const body = reportBody({
      stationId: 'S01',
      category: 'c',
      text: '  t  ',
      anonymous: true,
      location: { lat: 1, lng: 2, name: 'x' },
      phoneCode: '',
      photos: [
        { key: 'k1', state: 'done' },
        { key: '', state: 'failed' },
      ],
    })
    expect(body).toEqual({
      station_id: 'S01',
      category: 'c',
      text: 't',
      photos: ['k1'],
      anonymous: true,
      location: { lat: 1, lng: 2 },
    })
  })
})
