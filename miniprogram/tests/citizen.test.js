import { describe, expect, it } from 'vitest'
import {
  categoryNames,
  draftProblems,
  evaluationProblem,
  subscribeTemplateIds,
  textProblem,
} from '../src/services/citizen.js'
import { createStations, filterStations, stationIdFromQuery } from '../src/services/stations.js'
import { memoryStorage } from '../src/services/storage.js'
import { ApiError } from '../src/services/errors.js'

describe('report form rules', () => {
  it('checks the text length after trimming', () => {
    expect(textProblem('  ')).toBe('请填写问题描述')
    expect(textProblem('路灯不亮')).toBe('')
    expect(textProblem('字'.repeat(1000))).toBe('')
    expect(textProblem('字'.repeat(1001))).toMatch('最多 1000 字')
  })
  it('names what a draft lacks by section', () => {
    expect(draftProblems({ stationId: '', location: null, category: '', text: '' })).toEqual({
      station: '请先选择联络站',
      category: '请选择问题类别',
      text: '请填写问题描述',
    })
    expect(draftProblems({ stationId: 'S01', category: 'municipal.road', text: '坑' })).toEqual({})
    expect(draftProblems({ stationId: '', location: { lat: 1, lng: 2 }, category: 'x', text: 'y' })).toEqual({})
  })
  it('reads the subscribe template ids in whatever shape the settings give them', () => {
    expect(subscribeTemplateIds({ subscribe: { report: ['t1', 't2'] } })).toEqual(['t1', 't2'])
    expect(subscribeTemplateIds({ subscribe_template_ids: ['a', 'b', 'c', 'd'] })).toEqual(['a', 'b', 'c'])
    expect(subscribeTemplateIds({ subscribe_template_ids: { report_progress: 'p', report_resolved: 'r' } })).toEqual([
      'p',
      'r',
    ])
    expect(subscribeTemplateIds({ subscribe: { templates: [{ id: 'x' }, { template_id: 'y' }] } })).toEqual(['x', 'y'])
    expect(subscribeTemplateIds({ subscribe: { report: ['t1', 't1'] } })).toEqual(['t1'])
    expect(subscribeTemplateIds({})).toEqual([])
    expect(subscribeTemplateIds(null)).toEqual([])
  })
  it('finds the names of a category code', () => {
    const groups = [{ code: 'municipal', name: '市政设施', children: [{ code: 'municipal.road', name: '道路破损' }] }]
    expect(categoryNames(groups, 'municipal.road')).toEqual({ group: '市政设施', leaf: '道路破损' })
    expect(categoryNames(groups, 'nope')).toBeNull()
  })
  it('needs a comment for 不满意 and keeps comments short', () => {
    expect(evaluationProblem('satisfied', '')).toBe('')
    expect(evaluationProblem('unsatisfied', ' ')).toBe('请写下不满意的原因')
    expect(evaluationProblem('unsatisfied', '还是坏的')).toBe('')
    expect(evaluationProblem('satisfied', '好'.repeat(201))).toMatch('最多 200 字')
    expect(evaluationProblem('', '')).toBe('请选择满意或不满意')
  })
})

describe('stations', () => {
  it('reads the station id from a scan (scene) or a link (station)', () => {
    expect(stationIdFromQuery({ scene: 'S01' })).toBe('S01')
    expect(stationIdFromQuery({ scene: encodeURIComponent('S 01') })).toBe('S 01')
    expect(stationIdFromQuery({ station: 'S02' })).toBe('S02')
    expect(stationIdFromQuery({ scene: '%E0%A4%A' })).toBe('%E0%A4%A')
    expect(stationIdFromQuery({})).toBe('')
    expect(stationIdFromQuery(undefined)).toBe('')
  })
  it('asks the API for one station and the nearest ones without a login', async () => {
    const calls = []
    const api = { get: async (path, options) => (calls.push([path, options]), { stations: [{ id: 'S01' }] }) }
    const stations = createStations({ api, storage: memoryStorage() })
    expect(await stations.nearest({ lat: 36.06, lng: 120.38 }, 10)).toEqual([{ id: 'S01' }])
    await stations.get('S/1')
    expect(calls).toEqual([
      ['/stations', { auth: false, query: { lat: 36.06, lng: 120.38, limit: 10 } }],
      ['/stations/S%2F1', { auth: false }],
    ])
  })
  it('gives the station last read when the network or the server fails, never for a 404', async () => {
    const storage = memoryStorage()
    let failure = null
    const api = {
      get: async (path) => {
        if (failure) throw failure
        return { id: decodeURIComponent(path.split('/').pop()), name: '八大关站', address: '汇泉路12号' }
      },
    }
    const stations = createStations({ api, storage })
    expect((await stations.get('S01')).name).toBe('八大关站')
    failure = new ApiError()
    expect(await stations.get('S01')).toEqual({ id: 'S01', name: '八大关站', address: '汇泉路12号' })
    await expect(stations.get('S02')).rejects.toBe(failure)
    failure = new ApiError({ status: 503, code: 'server_error' })
    expect((await stations.get('S01')).id).toBe('S01')
    failure = new ApiError({ status: 404, code: 'station_not_found', message: '联络站不存在' })
    await expect(stations.get('S01')).rejects.toBe(failure)
  })
  it('hands the picked station to the report page once and remembers it', () => {
    const storage = memoryStorage()
    const stations = createStations({ api: {}, storage, now: () => 5 })
    stations.pick({ id: 'S03', name: '三号站', address: 'x' })
    expect(stations.takePicked()).toEqual({ id: 'S03', name: '三号站', at: 5 })
    expect(stations.takePicked()).toBeNull()
    expect(stations.remembered()).toEqual({ id: 'S03', name: '三号站' })
  })
  it('filters a list by every word in name or address', () => {
    const list = [
      { id: 'S01', name: '市南区八大关联络站', address: '香港西路 1 号' },
      { id: 'S02', name: '崂山区联络站', address: '海尔路 2 号' },
    ]
    expect(filterStations(list, '').length).toBe(2)
    expect(filterStations(list, '市南').map((s) => s.id)).toEqual(['S01'])
    expect(filterStations(list, '海尔路 崂山').map((s) => s.id)).toEqual(['S02'])
    expect(filterStations(list, 's02').map((s) => s.id)).toEqual(['S02'])
    expect(filterStations(list, '黄岛')).toEqual([])
  })
})
