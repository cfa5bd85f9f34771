import { ref } from 'vue'
import { onPullDownRefresh, onReachBottom } from '@dcloudio/uni-app'

/**
 * A list read page by page with a cursor: pull to refresh starts again, reaching the
 * bottom reads the next page. `fetchPage(cursor)` answers `{items, next_cursor}`, or null
 * when the page has nothing to list (it said why itself).
 */
export function usePagedList(fetchPage) {
  const items = ref([])
  const cursor = ref(null)
  const loading = ref(false)
  const error = ref('')

  async function load(after = null) {
    loading.value = true
    error.value = ''
    try {
      const page = await fetchPage(after)
      if (!page) return
      items.value = after ? [...items.value, ...page.items] : page.items
      cursor.value = page.next_cursor
    } catch (e) {
      error.value = e.message
    } finally {
      loading.value = false
    }
  }

  onPullDownRefresh(async () => {
    await load()
    uni.stopPullDownRefresh()
  })
  onReachBottom(() => {
    if (cursor.value && !loading.value) load(cursor.value)
  })

  return { items, cursor, loading, error, load }
}
