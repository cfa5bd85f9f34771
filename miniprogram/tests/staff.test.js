import { describe, expect, it } from 'vitest'
import { ApiError } from '../src/services/errors.js'
import {
  createStaff,
  figureText,
  headline,
  hoursText,
  monthPeriod,
  ownScope,
  scopeOptions,
  stationsFrom,
} from '../src/services/staff.js'

describe('scopes', () => {
  const station = { roles: ['station_staff'], station_id: 'S01', district_id: 'shinan' }
  const district = { roles: ['district_staff'], district_id: 'shinan', city_id: 'qingdao' }
  const city = { roles: ['city_staff'], city_id: 'qingdao' }

  it("is the caller's widest", () => {
    expect(ownScope(station)).toBe('station:S01')
    expect(ownScope(district)).toBe('district:shinan')
    expect(ownScope(city)).toBe('city:qingdao')
    expect(ownScope({ roles: ['citizen'] })).toBe(null)
  })

  it('offers station staff only their station, district staff their stations, city staff their districts', () => {
    expect(scopeOptions(station, { stations: [{ id: 'S02' }] }).map((o) => o.scope)).toEqual(['station:S01'])
    expect(scopeOptions(district, { stations: [{ id: 'S01', name: '八大关' }] })).toEqual([
      { scope: 'district:shinan', label: '全区' },
      { scope: 'station:S01', label: '八大关' },
    ])
    expect(
      scopeOptions(city, { districts: [{ id: 'shinan', name: '市南区' }], stations: [{ id: 'S01' }] }).map(
        (o) => o.scope,
      ),
    ).toEqual(['city:qingdao', 'district:shinan'])
  })

  it("knows a district's stations from its figures and deputies", () => {
    const stats = { by_station: [{ station_id: 'S02', name: '金门路' }] }
    expect(stationsFrom(stats, [{ station_id: 'S01', station_name: '八大关' }, { station_id: 'S02' }])).toEqual([
      { id: 'S01', name: '八大关' },
      { id: 'S02', name: '金门路' },
    ])
  })
})

describe('figures', () => {
  it('shows rates, days and counts, and a dash without a denominator', () => {
    expect(figureText('rate', 0.8654)).toBe('86.5%')
    expect(figureText('rate', 1)).toBe('100%')
    expect(figureText('days', 3.25)).toBe('3.3 天')
    expect(figureText('count', 4)).toBe('4 件')
    expect(figureText('rate', null)).toBe('—')
  })

  it("uses the server's Chinese labels", () => {
    const rows = headline({
      closure_rate: 0.5,
      definitions: { closure_rate: { label: '办结率', definition: '办结数 ÷ 受理数' } },
    })
    expect(rows[0]).toEqual({ key: 'closure_rate', label: '办结率', value: '50%', definition: '办结数 ÷ 受理数' })
    expect(rows.map((r) => r.label)).toEqual([
      '办结率',
      '平均办结时长',
      '一次办结率',
      '满意率',
      '超期未办结',
      '代表参与率',
    ])
  })

  it('this month is counted in Beijing days', () => {
    expect(monthPeriod(Date.parse('2026-03-31T17:00:00Z'))).toEqual({ from: '2026-04-01', to: '2026-04-01' })
    expect(monthPeriod(Date.parse('2026-03-15T01:00:00Z'))).toEqual({ from: '2026-03-01', to: '2026-03-15' })
  })

  it('reads hours as days and hours', () => {
    expect(hoursText(0)).toBe('不到1小时')
    expect(hoursText(5)).toBe('5小时')
    expect(hoursText(53)).toBe('2天5小时')
    expect(hoursText(48)).toBe('2天')
  })
})

describe('requests', () => {
  function recording(answer = {}) {
    const calls = []
    return {
      calls,
      get: async (path, options) => (calls.push(['GET', path, options.query]), answer),
      post: async (path, body) => (calls.push(['POST', path, body]), {}),
    }
  }

  it('lists page by cursor in the given scope', async () => {
    const api = recording({ items: [{ id: 'R1' }], next_cursor: 'c2' })
    const page = await createStaff({ api }).overdue('district:shinan', 'c1')
    expect(page).toEqual({ items: [{ id: 'R1' }], next_cursor: 'c2' })
    expect(api.calls[0]).toEqual(['GET', '/staff/overdue', { scope: 'district:shinan', cursor: 'c1', limit: 20 }])
  })

  it('moderation sends pass, or reject with its reason', async () => {
    const api = recording()
    const staff = createStaff({ api })
    await staff.moderate('R1', 'pass')
    await staff.moderate('R2', 'reject', ' 含广告 ')
    expect(api.calls).toEqual([
      ['POST', '/reports/R1/moderation', { result: 'pass' }],
      ['POST', '/reports/R2/moderation', { result: 'reject', note: '含广告' }],
    ])
  })

  it('a missing deputies route is an empty list; a refusal is an error', async () => {
    const missing = { get: async () => Promise.reject(new ApiError({ status: 404, code: 'not_found', message: '' })) }
    expect(await createStaff({ api: missing }).deputies('district:shinan')).toEqual([])
    const refused = {
      get: async () =>
        Promise.reject(new ApiError({ status: 403, code: 'scope_forbidden', field: 'scope', message: '只能…' })),
    }
    await expect(createStaff({ api: refused }).deputies('district:huangdao')).rejects.toMatchObject({ status: 403 })
  })
})
