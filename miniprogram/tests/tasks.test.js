import { describe, expect, it } from 'vitest'
import { ApiError } from '../src/services/errors.js'
import {
  acceptFailure,
  ageText,
  allowedActions,
  createTasks,
  departments,
  matchReasons,
  tabCounts,
  triageBody,
} from '../src/services/tasks.js'

/** An API that answers GET /tasks from a list of tasks and records every call. */
function fakeApi(tasks, { counts = null, known = ['offered', 'accepted', 'in_progress'] } = {}) {
  const calls = []
  return {
    calls,
    get: async (path, { query } = {}) => {
      calls.push(['GET', path, query])
      if (path === '/tasks') {
        if (!known.includes(query.status))
          throw new ApiError({ status: 422, code: 'invalid_field', field: 'status', message: '状态须为…' })
        const answer = { items: tasks.filter((t) => t.status === query.status) }
        if (counts) answer.counts = counts
        return answer
      }
      throw new ApiError({ status: 404, code: 'not_found', message: '不存在' })
    },
    post: async (path, body) => {
      calls.push(['POST', path, body])
      return { id: 'R1', status: 'accepted' }
    },
  }
}

const task = (id, status, updated) => ({ report_id: id, status, updated_at: updated })

describe('task tabs', () => {
  it('shows accepted and in-progress tasks together in 办理中, newest first', async () => {
    const api = fakeApi([
      task('R1', 'accepted', '2026-01-01'),
      task('R2', 'in_progress', '2026-01-03'),
      task('R3', 'offered', '2026-01-02'),
    ])
    const tasks = createTasks({ api })
    const page = await tasks.tab('handling')
    expect(page.items.map((t) => t.report_id)).toEqual(['R2', 'R1'])
  })

  it('counts from the first pages while the server gives no counts, and an unknown status is an empty tab', async () => {
    const api = fakeApi([task('R1', 'accepted', '1'), task('R3', 'offered', '2'), task('R4', 'offered', '3')])
    const counts = await createTasks({ api }).counts()
    expect(counts).toEqual({ offered: 2, handling: 1, overdue: 0 })
  })

  it("prefers the server's counts, folding statuses into tabs", async () => {
    const api = fakeApi([], {
      counts: { offered: 3, accepted: 1, in_progress: 2, overdue: 1 },
      known: ['offered', 'accepted', 'in_progress', 'overdue'],
    })
    expect(await createTasks({ api }).counts()).toEqual({ offered: 3, handling: 3, overdue: 1 })
    expect(tabCounts({ offered: 1, handling: 5 })).toMatchObject({ handling: 5 })
  })

  it('merge targets are the other reports in hand', async () => {
    const api = fakeApi([task('R1', 'accepted', '1'), task('R2', 'in_progress', '2')])
    const targets = await createTasks({ api }).mergeTargets('R1')
    expect(targets.map((t) => t.report_id)).toEqual(['R2'])
  })
})

describe('what the deputy may do', () => {
  const offered = { status: 'offered', candidates: [{ deputy_id: 'D01', reasons: ['本站代表', '擅长：法律'] }] }

  it('an open offer: accept and decline', () => {
    expect(allowedActions(offered, 'D01')).toMatchObject({ accept: true, decline: true, handling: [] })
    expect(allowedActions(offered, 'D01', { status: 'declined' })).toMatchObject({ accept: false })
    expect(allowedActions(offered, 'D09').accept).toBe(false)
  })

  it('accepted by me: every triage action; merge only while accepted; none for another deputy', () => {
    const accepted = { status: 'accepted', accepted_by: 'D01' }
    expect(allowedActions(accepted, 'D01').handling).toEqual([
      'reply',
      'transfer',
      'suggestion',
      'merge',
      'progress',
      'resolve',
    ])
    expect(allowedActions({ ...accepted, status: 'second_handling' }, 'D01').handling).toEqual([
      'reply',
      'transfer',
      'suggestion',
      'progress',
      'resolve',
    ])
    expect(allowedActions({ ...accepted, status: 'resolved' }, 'D01').handling).toEqual([])
    expect(allowedActions(accepted, 'D02').handling).toEqual([])
  })

  it('the reasons of my own candidacy', () => {
    expect(matchReasons(offered, 'D01')).toEqual(['本站代表', '擅长：法律'])
    expect(matchReasons(offered, 'D02')).toEqual([])
  })
})

describe('a lost accept', () => {
  it('names the winner when the server does', () => {
    const error = new ApiError({ status: 409, code: 'state_conflict', message: '该反映已由王建国代表接单' })
    expect(acceptFailure(error)).toEqual({ taken: true, message: '该反映已由王建国代表接单' })
  })
  it('says another deputy took it otherwise', () => {
    const error = new ApiError({
      status: 409,
      code: 'transition_not_allowed',
      message: '该反映当前状态为“代表已接单”，不能代表接单',
    })
    expect(acceptFailure(error)).toEqual({ taken: true, message: '该任务已被其他代表接单' })
  })
  it('keeps an offer the deputy already handled apart', () => {
    const error = new ApiError({ status: 409, code: 'offer_closed', message: '您已处理过该任务' })
    expect(acceptFailure(error)).toEqual({ taken: false, message: '您已处理过该任务' })
  })
})

describe('requests', () => {
  it('triage bodies carry only their own fields', () => {
    expect(triageBody('reply', { note: ' 已答复 ', into: 'R9' })).toEqual({ action: 'reply', note: '已答复' })
    expect(triageBody('transfer', { department_id: 'shinan-cg', deadline_days: '7', note: '' })).toEqual({
      action: 'transfer',
      department_id: 'shinan-cg',
      deadline_days: 7,
    })
    expect(triageBody('merge', { into: 'R2', note: 'x' })).toEqual({ action: 'merge', into: 'R2' })
  })

  it('progress sends photo keys; resolve sends photos only when there are some', async () => {
    const api = fakeApi([])
    const tasks = createTasks({ api })
    await tasks.progress('R1', ' 已到现场 ', ['uploads/a.jpg'])
    await tasks.resolve('R1', '已修复')
    expect(api.calls).toEqual([
      ['POST', '/reports/R1/progress', { note: '已到现场', photos: ['uploads/a.jpg'] }],
      ['POST', '/reports/R1/resolve', { note: '已修复' }],
    ])
  })

  it("departments come from the route, for the report's district and category", async () => {
    const calls = []
    const api = {
      get: async (path, { query }) => (
        calls.push([path, query]),
        {
          items: [
            { id: 'shinan-jj', suggested: true },
            { id: 'shinan-cg', suggested: false },
          ],
        }
      ),
    }
    const result = await departments(api, 'shinan', 'traffic.parking')
    expect(result.items.map((d) => d.id)).toEqual(['shinan-jj', 'shinan-cg'])
    expect(calls).toEqual([['/departments', { district: 'shinan', category: 'traffic.parking' }]])
  })
})

describe('ages', () => {
  const now = Date.parse('2026-01-02T00:00:00Z')
  it('reads as a person would say it', () => {
    expect(ageText('2026-01-01T23:59:40Z', now)).toBe('刚刚')
    expect(ageText('2026-01-01T23:35:00Z', now)).toBe('25分钟前')
    expect(ageText('2026-01-01T21:00:00Z', now)).toBe('3小时前')
    expect(ageText('2025-12-30T00:00:00Z', now)).toBe('3天前')
  })
})
