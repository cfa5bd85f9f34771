/**
 * The session: a token kept in storage until shortly before it expires; a new one is
 * obtained through the platform's credential (a wx.login code, or a web OAuth code) and
 * exchanged at the backend. Concurrent callers share one login.
 */
import { ApiError } from './errors.js'

const KEY = 'ssp.session'
const MARGIN_MS = 60 * 1000

export function createSession({ storage, credential, exchange, returned = () => false, now = () => Date.now() }) {
  let pending = null

  function stored() {
    const value = storage.get(KEY)
    return value && value.token && value.expiresAt - MARGIN_MS > now() ? value : null
  }

  function renew() {
    if (!pending) {
      pending = (async () => {
        storage.remove(KEY)
        const { kind, code } = await credential()
        const answer = await exchange(kind, code)
        if (!answer || !answer.token)
          throw new ApiError({ status: 401, code: 'login_failed', message: '登录失败，请重试' })
        const value = { token: answer.token, user: answer.user, expiresAt: now() + answer.expires_in * 1000 }
        storage.set(KEY, value)
        return value
      })().finally(() => {
        pending = null
      })
    }
    return pending
  }

  return {
    async token() {
      return (stored() || (await renew())).token
    },
    renew,
    /** Finish a login the platform came back from (a web OAuth redirect); null when none. */
    async resume() {
      if (stored() || !returned()) return null
      return (await renew()).user
    },
    user() {
      const value = stored()
      return value ? value.user : null
    },
    hasRole(role) {
      const user = this.user()
      return Boolean(user && user.roles && user.roles.includes(role))
    },
    signOut() {
      storage.remove(KEY)
    },
  }
}
