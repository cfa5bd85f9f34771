/**
 * The only module that knows WeChat from a browser. Everything else calls these functions
 * (or uni.* APIs that behave the same on both), so pages never branch on the platform.
 */

const config = () => {
  // #ifdef H5
  return (typeof window !== 'undefined' && window.SSP_CONFIG) || {}
  // #endif
  // #ifndef H5
  return { apiBase: import.meta.env.VITE_SSP_API_BASE || 'http://127.0.0.1:8000' }
  // #endif
}

/** Where the API is: the browser build reads its ssp-config.js, the mini-program its build setting. */
export function apiBase() {
  const base = config().apiBase || ''
  return base.replace(/\/$/, '')
}

/** What the platform can do that the other cannot, for pages that show or hide a control. */
export const capabilities = {
  // #ifdef MP-WEIXIN
  phoneNumberButton: true,
  subscribeMessages: true,
  privacyButton: true,
  // #endif
  // #ifndef MP-WEIXIN
  phoneNumberButton: false,
  subscribeMessages: false,
  privacyButton: false,
  // #endif
}

/**
 * A login credential: in WeChat a wx.login code; in a browser the OAuth code WeChat
 * redirected back with, or else a redirect to WeChat's authorize page (which never returns).
 */
export function credential() {
  // #ifdef MP-WEIXIN
  return new Promise((resolve, reject) => {
    uni.login({ provider: 'weixin', success: (res) => resolve({ kind: 'mp', code: res.code }), fail: reject })
  })
  // #endif
  // #ifndef MP-WEIXIN
  const url = new URL(window.location.href)
  const code = url.searchParams.get('code')
  if (code && url.searchParams.get('state') === 'ssp') {
    url.searchParams.delete('code')
    url.searchParams.delete('state')
    window.history.replaceState(null, '', url.toString())
    return Promise.resolve({ kind: 'oauth', code })
  }
  const { oauthBase = 'https://open.weixin.qq.com', appid = '' } = config()
  const authorize = new URL('/connect/oauth2/authorize', oauthBase)
  authorize.searchParams.set('appid', appid)
  authorize.searchParams.set('redirect_uri', window.location.href)
  authorize.searchParams.set('response_type', 'code')
  authorize.searchParams.set('scope', 'snsapi_userinfo')
  authorize.searchParams.set('state', 'ssp')
  window.location.assign(`${authorize.toString()}#wechat_redirect`)
  return new Promise(() => {})
  // #endif
}

/** Whether the page was opened by a login redirect that brought a credential not yet used. */
export function loginReturned() {
  // #ifdef MP-WEIXIN
  return false
  // #endif
  // #ifndef MP-WEIXIN
  const url = new URL(window.location.href)
  return Boolean(url.searchParams.get('code')) && url.searchParams.get('state') === 'ssp'
  // #endif
}

/** Ask for subscribe messages; must be called synchronously inside a tap handler. */
export function requestSubscribe(templateIds) {
  // #ifdef MP-WEIXIN
  if (!templateIds || !templateIds.length) return Promise.resolve({})
  return new Promise((resolve) => {
    wx.requestSubscribeMessage({ tmplIds: templateIds.slice(0, 3), success: resolve, fail: () => resolve({}) })
  })
  // #endif
  // #ifndef MP-WEIXIN
  return Promise.resolve({})
  // #endif
}

/** Pick photos, compressed on the device: [{path, size, type}]. */
export function chooseImages(count) {
  // #ifdef MP-WEIXIN
  return new Promise((resolve, reject) => {
    wx.chooseMedia({
      count,
      mediaType: ['image'],
      sizeType: ['compressed'],
      success: async (res) => {
        const files = []
        for (const file of res.tempFiles) files.push(await compressWeixin(file))
        resolve(files)
      },
      fail: (err) => (String(err && err.errMsg).includes('cancel') ? resolve([]) : reject(err)),
    })
  })
  // #endif
  // #ifndef MP-WEIXIN
  // A browser's file dialog cannot cap how many are picked (uni.chooseImage would drop the
  // extra ones silently): all picked files are returned, the ones past `count` uncompressed,
  // so the caller can refuse them with a message.
  return new Promise((resolve, reject) => {
    uni.chooseImage({
      count: count > 1 ? Math.max(count, 99) : 1,
      sizeType: ['compressed'],
      success: async (res) => {
        const files = []
        for (const file of res.tempFiles)
          files.push(
            files.length < count
              ? await compressInBrowser(file)
              : { path: file.path, size: file.size, type: file.type || 'image/jpeg' },
          )
        resolve(files)
      },
      fail: (err) => (String(err && err.errMsg).includes('cancel') ? resolve([]) : reject(err)),
    })
  })
  // #endif
}

// #ifdef MP-WEIXIN
function compressWeixin(file) {
  return new Promise((resolve) => {
    if (file.size < 400 * 1024) return resolve({ path: file.tempFilePath, size: file.size, type: 'image/jpeg' })
    wx.compressImage({
      src: file.tempFilePath,
      quality: 70,
      compressedWidth: 1600,
      success: (res) =>
        wx.getFileSystemManager().getFileInfo({
          filePath: res.tempFilePath,
          success: (info) => resolve({ path: res.tempFilePath, size: info.size, type: 'image/jpeg' }),
          fail: () => resolve({ path: file.tempFilePath, size: file.size, type: 'image/jpeg' }),
        }),
      fail: () => resolve({ path: file.tempFilePath, size: file.size, type: 'image/jpeg' }),
    })
  })
}
// #endif

// #ifdef H5
const MAX_SIDE = 1600
function compressInBrowser(file) {
  const original = { path: file.path, size: file.size, type: file.type || 'image/jpeg' }
  const blob = file.file || file
  if (!(blob instanceof Blob) || blob.size < 400 * 1024) return Promise.resolve(original)
  return new Promise((resolve) => {
    const image = new Image()
    image.onload = () => {
      const scale = Math.min(1, MAX_SIDE / Math.max(image.width, image.height))
      const canvas = document.createElement('canvas')
      canvas.width = Math.round(image.width * scale)
      canvas.height = Math.round(image.height * scale)
      canvas.getContext('2d').drawImage(image, 0, 0, canvas.width, canvas.height)
      canvas.toBlob(
        (out) =>
          resolve(
            out && out.size < blob.size
              ? { path: URL.createObjectURL(out), size: out.size, type: 'image/jpeg' }
              : original,
          ),
        'image/jpeg',
        0.8,
      )
    }
    image.onerror = () => resolve(original)
    image.src = file.path
  })
}
// #endif

/** The system's text scale (1 = normal), from WeChat's font setting or the browser's. */
export function systemFontScale() {
  // #ifdef MP-WEIXIN
  try {
    const info = wx.getSystemInfoSync()
    return info.fontSizeSetting ? Math.max(1, info.fontSizeSetting / 16) : 1
  } catch (e) {
    return 1
  }
  // #endif
  // #ifndef MP-WEIXIN
  // `medium` is the browser's default text size (its font size setting); the root's own
  // size says nothing: uni-app pins it with an inline `font-size: 16px`
  const probe = document.createElement('div')
  probe.style.cssText = 'position:absolute;visibility:hidden;font-size:medium'
  const parent = document.body || document.documentElement
  parent.appendChild(probe)
  const size = parseFloat(window.getComputedStyle(probe).fontSize) || 16
  parent.removeChild(probe)
  return Math.max(1, size / 16)
  // #endif
}

/**
 * Privacy: in WeChat, whether the user still has to agree to the privacy guideline, and a
 * hook for WeChat's request to show it; in a browser, the consent kept in storage.
 */
export const privacy = {
  needsAuthorization() {
    // #ifdef MP-WEIXIN
    return new Promise((resolve) => {
      if (!wx.getPrivacySetting) return resolve(false)
      wx.getPrivacySetting({ success: (res) => resolve(Boolean(res.needAuthorization)), fail: () => resolve(false) })
    })
    // #endif
    // #ifndef MP-WEIXIN
    return Promise.resolve(!uni.getStorageSync('ssp.privacy.agreed'))
    // #endif
  },
  onNeedAuthorization(handler) {
    // #ifdef MP-WEIXIN
    if (wx.onNeedPrivacyAuthorization) wx.onNeedPrivacyAuthorization((resolve) => handler(resolve))
    // #endif
  },
  agreed() {
    uni.setStorageSync('ssp.privacy.agreed', Date.now())
  },
  openContract() {
    // #ifdef MP-WEIXIN
    if (wx.openPrivacyContract) wx.openPrivacyContract({})
    // #endif
  },
}

/** Upload a file to a presigned POST; resolves with the HTTP status. */
export function uploadFile({ url, filePath, formData, onProgress }) {
  return new Promise((resolve, reject) => {
    const task = uni.uploadFile({
      url,
      filePath,
      name: 'file',
      formData,
      success: (res) => resolve(res.statusCode),
      fail: reject,
    })
    if (task && task.onProgressUpdate) task.onProgressUpdate((res) => onProgress && onProgress(res.progress))
  })
}
