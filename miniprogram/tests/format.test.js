import { describe, expect, it } from 'vitest'
import { actorName, formatBeijing, formatDistance, newestFirst, parseIso } from '../src/services/format.js'

describe('format', () => {
  it('shows an API time (UTC with microseconds) in Beijing time', () => {
    expect(formatBeijing('2026-11-21T08:30:00.123456+00:00')).toBe('2026-11-21 16:30')
    expect(formatBeijing('2026-12-31T16:05:00Z')).toBe('2027-01-01 00:05')
    expect(formatBeijing('2026-12-01T15:59:59+00:00')).toBe('2026-12-01 23:59')
    expect(formatBeijing('2026-12-01T08:00:00+08:00')).toBe('2026-12-01 08:00')
    expect(formatBeijing('')).toBe('')
    expect(formatBeijing('yesterday')).toBe('')
    expect(parseIso('2026-11-21T08:30:00')).toBe(Date.UTC(2026, 10, 21, 8, 30))
  })
  it('names who did a step in Chinese', () => {
    expect(actorName('citizen')).toBe('群众')
    expect(actorName('deputy')).toBe('代表')
    expect(['station_staff', 'district_staff', 'city_staff'].map(actorName)).toEqual([
      '工作人员',
      '工作人员',
      '工作人员',
    ])
    expect(actorName('handler')).toBe('承办单位')
    expect(actorName('system')).toBe('系统')
    expect(actorName('robot')).toBe('robot')
  })
  it('orders steps newest first', () => {
    const steps = [
      { seq: 1, at: '2026-11-21T08:30:00+00:00' },
      { seq: 3, at: '2026-11-21T09:30:00+00:00' },
      { seq: 2, at: '2026-11-21T09:00:00+00:00' },
    ]
    expect(newestFirst(steps).map((s) => s.seq)).toEqual([3, 2, 1])
    expect(newestFirst(null)).toEqual([])
  })
  it('reads distances', () => {
    expect(formatDistance(349.6)).toBe('350 米')
    expect(formatDistance(1234)).toBe('1.2 公里')
    expect(formatDistance(23456)).toBe('23 公里')
    expect(formatDistance(null)).toBe('')
  })
})
