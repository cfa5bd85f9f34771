/** Key-value storage: uni's storage on the device, or an in-memory one for tests. */

export const uniStorage = {
  get(key) {
    const value = uni.getStorageSync(key)
    return value === '' ? null : value
  },
  set(key, value) {
    uni.setStorageSync(key, value)
  },
  remove(key) {
    uni.removeStorageSync(key)
  },
}

export function memoryStorage(initial = {}) {
  const data = new Map(Object.entries(initial))
  return {
    get: (key) => (data.has(key) ? JSON.parse(JSON.stringify(data.get(key))) : null),
    set: (key, value) => data.set(key, JSON.parse(JSON.stringify(value))),
    remove: (key) => data.delete(key),
    keys: () => [...data.keys()],
  }
}
