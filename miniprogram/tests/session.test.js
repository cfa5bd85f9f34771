import { describe, expect, it } from 'vitest'
import { createSession } from '../src/services/session.js'
import { memoryStorage } from '../src/services/storage.js'

function setup({ expiresIn = 7200, returned = () => false } = {}) {
  let clock = 1_000_000
  const calls = []
  const session = createSession({
    storage: memoryStorage(),
    credential: async () => ({ kind: 'oauth', code: `c${calls.length}` }),
    exchange: async (kind, code) => (
      calls.push([kind, code]),
      { token: `tok-${code}`, expires_in: expiresIn, user: { id: 'U1', roles: ['citizen', 'deputy'] } }
    ),
    returned,
    now: () => clock,
  })
  return { session, calls, advance: (ms) => (clock += ms) }
}

describe('session', () => {
  it('logs in once and keeps the token until shortly before it expires', async () => {
    const { session, calls, advance } = setup()
    expect(await session.token()).toBe('tok-c0')
    advance(60 * 60 * 1000)
    expect(await session.token()).toBe('tok-c0')
    advance(59 * 60 * 1000)
    expect(await session.token()).toBe('tok-c1')
    expect(calls).toEqual([
      ['oauth', 'c0'],
      ['oauth', 'c1'],
    ])
  })

  it('shares one login among concurrent callers', async () => {
    const { session, calls } = setup()
    const tokens = await Promise.all([session.token(), session.token(), session.renew().then((v) => v.token)])
    expect(new Set(tokens).size).toBe(1)
    expect(calls).toHaveLength(1)
  })

  it('knows the roles of the logged-in user and forgets them on sign-out', async () => {
    const { session } = setup()
    expect(session.user()).toBeNull()
    await session.token()
    expect(session.hasRole('deputy')).toBe(true)
    expect(session.hasRole('city_staff')).toBe(false)
    session.signOut()
    expect(session.user()).toBeNull()
  })

  it('renews after a failed login instead of sticking to the failure', async () => {
    let fail = true
    const session = createSession({
      storage: memoryStorage(),
      credential: async () => ({ kind: 'mp', code: 'x' }),
      exchange: async () => {
        if (fail) throw new Error('down')
        return { token: 't', expires_in: 100, user: {} }
      },
    })
    await expect(session.token()).rejects.toThrow('down')
    fail = false
    expect(await session.token()).toBe('t')
  })

  it('finishes a login the platform came back from, and only then', async () => {
    let back = false
    const { session, calls } = setup({ returned: () => back })
    expect(await session.resume()).toBeNull()
    expect(calls).toHaveLength(0)
    back = true
    expect((await session.resume()).id).toBe('U1')
    expect(calls).toHaveLength(1)
    expect(await session.resume()).toBeNull()
    expect(calls).toHaveLength(1)
  })
})
