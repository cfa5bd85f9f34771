/**
 * Rules of the citizen's report and evaluation forms, kept out of the pages: what is
 * missing before a send, the subscribe template ids in the public client settings, the
 * chosen category's names.
 */

export const TEXT_MAX = 1000
export const COMMENT_MAX = 200

/** Why the text cannot be sent, or '' (the server checks again and answers at `text`). */
export function textProblem(text) {
  const trimmed = String(text || '').trim()
  if (!trimmed) return '请填写问题描述'
  if (trimmed.length > TEXT_MAX) return `问题描述最多 ${TEXT_MAX} 字，请删减后再提交`
  return ''
}

/** What is missing in a draft, by form section: {section: message}. */
export function draftProblems(draft) {
  const problems = {}
  if (!draft.stationId && !draft.location) problems.station = '请先选择联络站'
  if (!draft.category) problems.category = '请选择问题类别'
  const text = textProblem(draft.text)
  if (text) problems.text = text
  return problems
}

/**
 * The subscribe-message template ids for a report, read defensively from
 * GET /client/settings: `subscribe.report`, `subscribe_template_ids` (a list or by purpose),
 * `subscribe.templates`, `templates.report` … Unique ids, at most 3 (WeChat's limit per call).
 */
export function subscribeTemplateIds(clientSettings) {
  const s = clientSettings || {}
  const candidates = [
    s.subscribe && s.subscribe.report,
    s.subscribe_template_ids,
    s.subscribe && s.subscribe.templates,
    s.subscribe_templates,
    s.templates && s.templates.report,
    s.subscribe,
  ]
  const ids = []
  const collect = (value, depth = 0) => {
    if (!value || depth > 2) return
    if (typeof value === 'string') ids.push(value)
    else if (Array.isArray(value)) value.forEach((v) => collect(v, depth + 1))
    else if (typeof value === 'object') {
      if (typeof value.id === 'string') ids.push(value.id)
      else if (typeof value.template_id === 'string') ids.push(value.template_id)
      else Object.values(value).forEach((v) => collect(v, depth + 1))
    }
  }
  for (const candidate of candidates) {
    collect(candidate)
    if (ids.length) break
  }
  return [...new Set(ids.filter((id) => id && typeof id === 'string'))].slice(0, 3)
}

/** The group and leaf names of a category code in the /categories tree. */
export function categoryNames(groups, code) {
  for (const group of groups || []) {
    const leaf = (group.children || []).find((child) => child.code === code)
    if (leaf) return { group: group.name, leaf: leaf.name }
  }
  return null
}

/** Why an evaluation cannot be sent, or '': 不满意 needs a comment; at most COMMENT_MAX. */
export function evaluationProblem(result, comment) {
  const trimmed = String(comment || '').trim()
  if (result !== 'satisfied' && result !== 'unsatisfied') return '请选择满意或不满意'
  if (result === 'unsatisfied' && !trimmed) return '请写下不满意的原因'
  if (trimmed.length > COMMENT_MAX) return `评价内容最多 ${COMMENT_MAX} 字`
  return ''
}
