/**
 * The photo upload queue: each photo goes POST /uploads → the presigned POST to storage →
 * POST /uploads/confirm, at most `concurrency` at a time, with its own progress and a retry
 * when it fails. The queue never throws to its caller: a photo's failure is its state.
 */
import { ApiError } from './errors.js'

export const MAX_PHOTOS = 9

let counter = 0
const nextId = () => `p${Date.now().toString(36)}${(counter += 1)}`

export function createUploadQueue({ api, uploadFile, onChange = () => {}, concurrency = 3, maxPhotos = MAX_PHOTOS }) {
  const items = []
  let running = 0

  function changed() {
    onChange(items.map((item) => ({ ...item })))
  }

  function pump() {
    while (running < concurrency) {
      const item = items.find((candidate) => candidate.state === 'waiting')
      if (!item) return
      running += 1
      item.state = 'uploading'
      item.progress = 0
      item.error = ''
      changed()
      upload(item).finally(() => {
        running -= 1
        pump()
      })
    }
  }

  async function upload(item) {
    try {
      const slot = await api.post('/uploads', { content_type: item.type || 'image/jpeg', size: item.size })
      const status = await uploadFile({
        url: slot.url,
        filePath: item.path,
        formData: slot.fields,
        onProgress: (percent) => {
          item.progress = Math.min(99, percent)
          changed()
        },
      })
      if (status < 200 || status >= 300)
        throw new ApiError({ status, code: 'upload_failed', message: '照片上传失败，请重试' })
      await api.post('/uploads/confirm', { key: slot.key })
      item.key = slot.key
      item.state = 'done'
      item.progress = 100
    } catch (error) {
      item.state = 'failed'
      item.error =
        error instanceof ApiError && error.status >= 400 && error.status < 500 ? error.message : '上传失败，点按重试'
    }
    changed()
  }

  return {
    /** Add chosen files ({path, size, type}); the ones past the limit are refused and returned. */
    add(files) {
      const room = Math.max(0, maxPhotos - items.length)
      const accepted = files.slice(0, room)
      for (const file of accepted) {
        items.push({
          id: nextId(),
          path: file.path,
          size: file.size,
          type: file.type || 'image/jpeg',
          key: '',
          state: 'waiting',
          progress: 0,
          error: '',
        })
      }
      changed()
      pump()
      return files.slice(room)
    },
    /** Put back photos restored from a draft: uploaded ones stay, the others are retried. */
    restore(photos) {
      for (const photo of photos.slice(0, maxPhotos)) {
        const done = photo.state === 'done' && photo.key
        items.push({ ...photo, state: done ? 'done' : 'waiting', progress: done ? 100 : 0, error: '' })
      }
      changed()
      pump()
    },
    retry(id) {
      const item = items.find((candidate) => candidate.id === id)
      if (item && item.state === 'failed') {
        item.state = 'waiting'
        changed()
        pump()
      }
    },
    remove(id) {
      const index = items.findIndex((candidate) => candidate.id === id)
      if (index >= 0 && items[index].state !== 'uploading') {
        items.splice(index, 1)
        changed()
      }
    },
    items: () => items.map((item) => ({ ...item })),
    busy: () => items.some((item) => item.state === 'waiting' || item.state === 'uploading'),
    failed: () => items.filter((item) => item.state === 'failed').length,
    clear() {
      items.splice(0, items.length)
      changed()
    },
  }
}
