/**
 * Public client settings (subscribe template ids, limits) and the category tree, fetched
 * before they are needed and kept in storage, so a tap never waits for them.
 */

const SETTINGS_KEY = 'ssp.settings'
const CATEGORIES_KEY = 'ssp.categories'
const USAGE_KEY = 'ssp.category-usage'

export function createSettings({ api, storage }) {
  async function cached(key, load) {
    try {
      const value = await load()
      storage.set(key, value)
      return value
    } catch (error) {
      const kept = storage.get(key)
      if (kept) return kept
      throw error
    }
  }
  return {
    load: () => cached(SETTINGS_KEY, () => api.get('/client/settings', { auth: false })),
    current: () => storage.get(SETTINGS_KEY) || {},
    categories: () => cached(CATEGORIES_KEY, () => api.get('/categories', { auth: false })),
    /** Remember a chosen category, so the most used come first next time. */
    used(code) {
      const usage = storage.get(USAGE_KEY) || {}
      usage[code] = (usage[code] || 0) + 1
      storage.set(USAGE_KEY, usage)
    },
    usage: () => storage.get(USAGE_KEY) || {},
  }
}

/** Category groups with the most used (by this device, then by the server's order) first. */
export function orderCategories(groups, usage) {
  const score = (group) => group.children.reduce((sum, child) => sum + (usage[child.code] || 0), 0)
  return groups
    .map((group, index) => ({
      ...group,
      index,
      children: [...group.children].sort((a, b) => (usage[b.code] || 0) - (usage[a.code] || 0)),
    }))
    .sort((a, b) => score(b) - score(a) || a.index - b.index)
}
