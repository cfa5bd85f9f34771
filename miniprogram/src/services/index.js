/** The services wired to the platform: what pages import. */
import { apiBase, credential, loginReturned, uploadFile } from '../platform/index.js'
import { createApi } from './api.js'
import { createDrafts } from './drafts.js'
import { createReports } from './reports.js'
import { createSession } from './session.js'
import { createSettings } from './settings.js'
import { createStations } from './stations.js'
import { uniStorage } from './storage.js'

function request(options) {
  return new Promise((resolve, reject) => {
    uni.request({ ...options, timeout: 15000, success: resolve, fail: reject })
  })
}

const LOGIN_PATHS = { mp: '/auth/login', oauth: '/auth/oauth' }
let api = null

export const session = createSession({
  storage: uniStorage,
  credential,
  returned: loginReturned,
  exchange: (kind, code) => api.post(LOGIN_PATHS[kind], { code }, { auth: false }),
})
api = createApi({ request, baseUrl: apiBase, session })

export const drafts = createDrafts({ storage: uniStorage })
export const reports = createReports({ api, drafts })
export const settings = createSettings({ api, storage: uniStorage })
export const stations = createStations({ api, storage: uniStorage })
export { api, uploadFile }
