import { describe, expect, it } from 'vitest'
import { ApiError } from '../src/services/errors.js'
import { createUploadQueue } from '../src/services/uploads.js'

const flush = () => new Promise((resolve) => setTimeout(resolve, 0))

function fakeApi({ failConfirm = 0 } = {}) {
  const calls = []
  let n = 0
  return {
    calls,
    post: async (path, body) => {
      calls.push([path, body])
      if (path === '/uploads')
        return { url: 'http://s3/bucket', fields: { key: `uploads/k${(n += 1)}` }, key: `uploads/k${n}` }
      if (failConfirm > 0) {
        failConfirm -= 1
        throw new ApiError({ status: 0 })
      }
      return { key: body.key, confirmed: true }
    },
  }
}

describe('upload queue', () => {
  it('asks for a slot, posts the file with its fields, confirms it, and reports progress', async () => {
    const api = fakeApi()
    const posted = []
    const snapshots = []
    const queue = createUploadQueue({
      api,
      uploadFile: async (o) => (posted.push(o), o.onProgress(50), 204),
      onChange: (items) => snapshots.push(items.map((i) => `${i.state}:${i.progress}`).join()),
    })
    queue.add([{ path: 'blob:1', size: 1200, type: 'image/jpeg' }])
    await flush()
    expect(api.calls.map((c) => c[0])).toEqual(['/uploads', '/uploads/confirm'])
    expect(api.calls[0][1]).toEqual({ content_type: 'image/jpeg', size: 1200 })
    expect(posted[0]).toMatchObject({ url: 'http://s3/bucket', filePath: 'blob:1', formData: { key: 'uploads/k1' } })
    expect(snapshots).toContain('uploading:50')
    expect(queue.items()[0]).toMatchObject({ state: 'done', key: 'uploads/k1', progress: 100 })
    expect(queue.busy()).toBe(false)
  })

  it('marks a failed photo and uploads it again on retry', async () => {
    const api = fakeApi({ failConfirm: 1 })
    const queue = createUploadQueue({ api, uploadFile: async () => 204 })
    queue.add([{ path: 'a', size: 1 }])
    await flush()
    const [item] = queue.items()
    expect(item.state).toBe('failed')
    expect(item.error).toContain('重试')
    expect(queue.failed()).toBe(1)
    queue.retry(item.id)
    await flush()
    expect(queue.items()[0].state).toBe('done')
  })

  it('treats a storage refusal as a failure, with the server message for a 4xx', async () => {
    const refusing = {
      post: async (path) => {
        if (path === '/uploads')
          throw new ApiError({ status: 422, code: 'invalid_field', message: '照片不能超过 10 MB', field: 'size' })
      },
    }
    const queue = createUploadQueue({ api: refusing, uploadFile: async () => 204 })
    queue.add([{ path: 'big', size: 50e6 }])
    await flush()
    expect(queue.items()[0]).toMatchObject({ state: 'failed', error: '照片不能超过 10 MB' })
    const storage = createUploadQueue({ api: fakeApi(), uploadFile: async () => 403 })
    storage.add([{ path: 'x', size: 1 }])
    await flush()
    expect(storage.items()[0].state).toBe('failed')
  })

  it('refuses photos past nine and runs at most three at once', async () => {
    let running = 0
    let peak = 0
    const queue = createUploadQueue({
      api: fakeApi(),
      uploadFile: async () => {
        running += 1
        peak = Math.max(peak, running)
        await flush()
        running -= 1
        return 204
      },
    })
    const refused = queue.add(Array.from({ length: 11 }, (_, i) => ({ path: `p${i}`, size: 1 })))
    expect(refused).toHaveLength(2)
    for (let i = 0; i < 20; i += 1) await flush()
    expect(queue.items().filter((i) => i.state === 'done')).toHaveLength(9)
    expect(peak).toBe(3)
  })

  it('restores uploaded photos without uploading them again', async () => {
    const api = fakeApi()
    const queue = createUploadQueue({ api, uploadFile: async () => 204 })
    queue.restore([
      { id: 'x', path: 'a', size: 1, key: 'uploads/old', state: 'done' },
      { id: 'y', path: 'b', size: 1, key: '', state: 'failed' },
    ])
    await flush()
    expect(queue.items().map((i) => i.key)).toEqual(['uploads/old', 'uploads/k1'])
  })
})
