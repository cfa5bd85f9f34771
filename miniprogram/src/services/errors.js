/** Errors the API client raises: a server answer (status, code, field, Chinese message) or no answer. */

export const NETWORK_MESSAGE = '网络连接失败，请检查网络后重试，填写的内容已保存'
export const SERVER_MESSAGE = '服务暂时不可用，请稍后重试，填写的内容已保存'

export class ApiError extends Error {
  constructor({ status = 0, code = 'network', message = NETWORK_MESSAGE, field = null } = {}) {
    super(message)
    this.name = 'ApiError'
    this.status = status
    this.code = code
    this.field = field
  }

  /** True when nothing reached the server or it failed: the same request may be sent again. */
  get retryable() {
    return this.status === 0 || this.status >= 500
  }

  static fromResponse(response) {
    const body = response && typeof response.data === 'object' ? response.data : null
    const error = (body && body.error) || {}
    const status = response.statusCode
    const fallback = status >= 500 ? SERVER_MESSAGE : `请求未能完成（${status}）`
    return new ApiError({
      status,
      code: error.code || (status >= 500 ? 'server_error' : 'http_error'),
      message: status >= 500 ? SERVER_MESSAGE : error.message || fallback,
      field: error.field || null,
    })
  }
}
