/**
 * The API client: JSON over the platform's request function, the session token attached,
 * and a 401 answered by one silent login and one retry.
 */
import { ApiError } from './errors.js'

export function createApi({ request, baseUrl, session }) {
  async function call(method, path, { data, headers = {}, auth = true, query } = {}, retried = false) {
    const header = { 'Content-Type': 'application/json', ...headers }
    if (auth) header.Authorization = `Bearer ${await session.token()}`
    let response
    try {
      response = await request({ url: baseUrl() + path + queryString(query), method, data, header })
    } catch (cause) {
      throw new ApiError()
    }
    if (response.statusCode === 401 && auth && !retried) {
      await session.renew()
      return call(method, path, { data, headers, auth, query }, true)
    }
    if (response.statusCode >= 400) throw ApiError.fromResponse(response)
    return response.data
  }

  return {
    call,
    get: (path, options) => call('GET', path, options),
    post: (path, data, options = {}) => call('POST', path, { ...options, data }),
    del: (path, options) => call('DELETE', path, options),
  }
}

export function queryString(query) {
  if (!query) return ''
  const parts = Object.entries(query)
    .filter(([, value]) => value !== undefined && value !== null && value !== '')
    .map(([key, value]) => `${encodeURIComponent(key)}=${encodeURIComponent(value)}`)
  return parts.length ? `?${parts.join('&')}` : ''
}
