import { describe, expect, it } from 'vitest'
import { createApi, queryString } from '../src/services/api.js'
import { ApiError, NETWORK_MESSAGE } from '../src/services/errors.js'

function fakeSession() {
  let n = 0
  return {
    renewals: 0,
    token: async () => `t${n}`,
    renew: async function () {
      n += 1
      this.renewals += 1
    },
  }
}

describe('api client', () => {
  it('sends the session token and answers the body', async () => {
    const seen = []
    const api = createApi({
      request: async (o) => (seen.push(o), { statusCode: 200, data: { ok: 1 } }),
      baseUrl: () => 'http://api',
      session: fakeSession(),
    })
    expect(await api.get('/reports/mine', { query: { cursor: 'c 1', limit: 20, empty: '' } })).toEqual({ ok: 1 })
    expect(seen[0].url).toBe('http://api/reports/mine?cursor=c%201&limit=20')
    expect(seen[0].header.Authorization).toBe('Bearer t0')
  })

  it('logs in again once on a 401 and retries with the new token', async () => {
    const session = fakeSession()
    const tokens = []
    const api = createApi({
      request: async (o) => (
        tokens.push(o.header.Authorization),
        tokens.length === 1 ? { statusCode: 401, data: {} } : { statusCode: 200, data: 'x' }
      ),
      baseUrl: () => '',
      session,
    })
    expect(await api.get('/tasks')).toBe('x')
    expect(tokens).toEqual(['Bearer t0', 'Bearer t1'])
    expect(session.renewals).toBe(1)
  })

  it('does not loop when the new token is refused too', async () => {
    const session = fakeSession()
    const api = createApi({
      request: async () => ({ statusCode: 401, data: { error: { code: 'unauthorized', message: '请重新登录' } } }),
      baseUrl: () => '',
      session,
    })
    await expect(api.get('/tasks')).rejects.toMatchObject({ status: 401, message: '请重新登录' })
    expect(session.renewals).toBe(1)
  })

  it('hands back the server field error in Chinese', async () => {
    const api = createApi({
      request: async () => ({
        statusCode: 422,
        data: { error: { code: 'risky_content', message: '内容含有违规信息', field: 'text' } },
      }),
      baseUrl: () => '',
      session: fakeSession(),
    })
    const error = await api.post('/reports', {}).catch((e) => e)
    expect(error).toBeInstanceOf(ApiError)
    expect(error).toMatchObject({
      status: 422,
      code: 'risky_content',
      field: 'text',
      message: '内容含有违规信息',
      retryable: false,
    })
  })

  it('turns no answer and 5xx into retryable errors that say the draft is kept', async () => {
    const down = createApi({
      request: async () => {
        throw new Error('net::ERR_CONNECTION_REFUSED')
      },
      baseUrl: () => '',
      session: fakeSession(),
    })
    const lost = await down.get('/x').catch((e) => e)
    expect(lost).toMatchObject({ status: 0, retryable: true, message: NETWORK_MESSAGE })
    const broken = createApi({
      request: async () => ({ statusCode: 503, data: { error: { message: 'x' } } }),
      baseUrl: () => '',
      session: fakeSession(),
    })
    const failed = await broken.get('/x').catch((e) => e)
    expect(failed.retryable).toBe(true)
    expect(failed.message).toContain('已保存')
  })

  it('sends no token on public routes', async () => {
    let header
    const api = createApi({
      request: async (o) => ((header = o.header), { statusCode: 200, data: {} }),
      baseUrl: () => '',
      session: {
        token: async () => {
          throw new Error('no login')
        },
      },
    })
    await api.get('/categories', { auth: false })
    expect(header.Authorization).toBeUndefined()
  })

  it('encodes query strings', () => {
    expect(queryString({ a: 'x&y', b: null })).toBe('?a=x%26y')
    expect(queryString(null)).toBe('')
  })
})
