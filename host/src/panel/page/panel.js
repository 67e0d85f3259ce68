// The Centralita panel: one page, plain ES module, no build step. It calls the same
// /api/v1 routes as any client; the session cookie authenticates it, and every change
// carries the session's CSRF token in the x-csrf-token header.

const main = document.getElementById('main');
let me = null;
// The company the operator opened, to manage it as its admin would; none = the operator's
// own pages.
let opened = null;

// An element: h('td', {class: 'x'}, 'text', child...).
function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (name.startsWith('on')) element.addEventListener(name.slice(2), value);
    else if (value !== undefined && value !== null && value !== false) element.setAttribute(name, value);
  }
  element.append(...children.flat().filter((c) => c !== undefined && c !== null));
  return element;
}

class ApiError extends Error {
  constructor(message, status, field) {
    super(message);
    this.status = status;
    this.field = field;
  }
}

async function api(method, path, body, contentType = 'application/json') {
  const headers = { 'x-csrf-token': me?.csrf ?? '' };
  if (body !== undefined) headers['content-type'] = contentType;
  const payload = body === undefined || contentType !== 'application/json' ? body : JSON.stringify(body);
  const response = await fetch(path, { method, headers, credentials: 'same-origin', body: payload });
  const data = response.status === 204 ? null : await response.json().catch(() => null);
  if (!response.ok) throw new ApiError(data?.error ?? response.statusText, response.status, data?.field);
  return data;
}

// --- login ---

function loginPage(error = '') {
  const message = h('p', { class: 'error', id: 'login-error' }, error);
  const form = h('form', { class: 'login', id: 'login-form' },
    h('h1', {}, 'Log in'),
    h('label', {}, 'Company (empty for the operator)', h('input', { name: 'company', autocomplete: 'organization' })),
    h('label', {}, 'User (extension, or operator)', h('input', { name: 'user', required: true, autocomplete: 'username' })),
    h('label', {}, 'Password', h('input', { name: 'password', type: 'password', required: true, autocomplete: 'current-password' })),
    h('button', { class: 'primary', type: 'submit' }, 'Log in'),
    message);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const values = Object.fromEntries(new FormData(form));
    try {
      me = await api('POST', '/panel/login', values);
      render();
    } catch (error) {
      message.textContent = error.message;
    }
  });
  main.replaceChildren(h('section', {}, form));
}

// --- a list of one kind of entity, with search, rows per page, delete and a create form ---

// How a cell shows a value: a destination as `kind:value`, other objects as JSON.
function cell(value) {
  if (value === null || value === undefined) return '';
  if (typeof value !== 'object') return String(value);
  const entries = Object.entries(value);
  if (!Array.isArray(value) && entries.length === 1 && typeof entries[0][1] === 'string') return `${entries[0][0]}:${entries[0][1]}`;
  return JSON.stringify(value);
}

// A destination as typed, `queue:sales` or `hang_up`, as the API wants it.
function parseDestination(raw) {
  const [kind, ...rest] = raw.split(':');
  return rest.length ? { [kind.trim()]: rest.join(':').trim() } : raw.trim();
}

// A form field's value as the API wants it, by the field's type.
function fieldValue(field, raw) {
  switch (field.type) {
    case 'number': return Number(raw);
    case 'checkbox': return raw === 'on';
    case 'list': return raw.split(',').map((item) => item.trim()).filter(Boolean);
    case 'json':
      try { return JSON.parse(raw); } catch (error) { throw new ApiError(`${field.name}: not JSON (${error.message})`, 422, field.name); }
    case 'destination': return parseDestination(raw);
    case 'rows': return raw === '' ? [] : JSON.parse(raw);
    default: return raw;
  }
}

// A select of the company's modules that make `field.decision`, the standard one first.
function moduleSelect(field) {
  const select = h('select', { name: field.name }, h('option', { value: '' }, `standard (${field.standard})`));
  api('GET', `${field.company}/modules`).then((modules) => {
    const wanted = select.value;
    for (const module of modules) {
      const decides = module.versions.some((v) => v.decisions.includes(field.decision));
      if (decides && !select.querySelector(`option[value="${CSS.escape(module.name)}"]`)) {
        select.append(h('option', { value: module.name }, module.name));
      }
    }
    select.value = wanted;
  }).catch(() => {});
  return select;
}

// Set a select's value, adding the option first if the list lacks it (a module whose
// versions are not loaded yet, a value the list does not offer).
function selectValue(select, value) {
  if (value && ![...select.options].some((o) => o.value === value)) select.append(h('option', { value }, value));
  select.value = value;
}

// The fields of a DID's time rule (SPEC §2): [name, label, example, kind].
const RULE_FIELDS = [
  ['order', 'Order', '1', 'number'], ['weekday', 'Weekday', '[1-5]'], ['day', 'Day of month', '0[5-9]|1[0-9]|2[0-5]'],
  ['month', 'Month', '0[3-6]'], ['year', 'Year', '202[1-5]'], ['start_time', 'From', '09:00'], ['end_time', 'To', '18:00'],
  ['caller_id', 'Caller number', '^6'], ['destination', 'Destination', 'extension:101', 'destination'],
  ['announcement', 'Announcement prompt', ''], ['prefix', 'Caller id prefix', ''], ['description', 'Description', ''],
];
const RULES_HELP = 'First matching rule wins; no match: the default destination. Date fields are regular '
  + 'expressions over zero-padded values, empty = any: . (any), 2021, 202[1-5], 2021|2025, 0[3-6], (03|06), '
  + '0[5-9]|1[0-9]|2[0-5], [2-5]. Weekday: 1 = Monday … 7 = Sunday. Times are HH:MM in the company\'s '
  + 'time zone; a "to" before the "from" crosses midnight.';
// An IVR menu's keys and a queue's agents, edited the same way.
const MENU_KEY_FIELDS = [['key', 'Key', '1'], ['destination', 'Destination', 'queue:sales', 'destination']];
const MENU_KEYS_HELP = `A key (0-9, * or #) and where it sends the caller: ${'extension:101, queue:sales, ivr:main, voicemail:office, hang_up'}.`;
const AGENT_FIELDS = [['extension', 'Extension', '101'], ['order', 'Order', '1', 'number']];
const AGENTS_HELP = 'Agents ring by the queue\'s strategy; linear strategies follow the order, lowest first.';

// A DID's rules in a line each: "1. weekday [1-5] · 09:00–18:00 → extension:100".
function rulesSummary(rules) {
  return (rules ?? []).map((rule) => {
    const when = ['year', 'month', 'day', 'weekday', 'caller_id'].filter((name) => rule[name] && rule[name] !== '.')
      .map((name) => `${name.replace('_', ' ')} ${rule[name]}`);
    if (rule.start_time || rule.end_time) when.push(`${rule.start_time ?? '00:00'}–${rule.end_time ?? '24:00'}`);
    return h('div', {}, `${rule.order}. ${when.join(' · ') || 'always'} → ${cell(rule.destination)}`);
  });
}

// A list field (DID rules, menu keys, queue agents) edited as rows of small inputs, one
// per `field.columns` entry [name, label, example, kind ('number', 'destination' or
// text)]. The list travels as JSON in a hidden field named `field.name`, so the form reads
// and fills it like any other field. A column named "order" numbers new rows.
function rowsEditor(field) {
  const store = h('textarea', { name: field.name, hidden: true });
  const rows = h('div', { class: 'rows' });
  const sync = () => {
    const items = [...rows.querySelectorAll('.row')].map((row) => {
      const item = {};
      for (const [name, , , kind] of field.columns) {
        const value = row.querySelector(`[data-name="${name}"]`).value.trim();
        if (value === '') continue;
        item[name] = kind === 'number' ? Number(value) : kind === 'destination' ? parseDestination(value) : value;
      }
      return item;
    });
    store.value = items.length ? JSON.stringify(items) : '';
  };
  const addRow = (item = {}) => {
    const row = h('div', { class: 'row' }, field.columns.map(([name, label, example]) => h('label', {}, label,
      // data-name, not name: a rule's "description" must not shadow the DID's own field.
      h('input', { 'data-name': name, placeholder: example, value: item[name] === undefined || item[name] === null ? '' : cell(item[name]) }))),
    h('button', { type: 'button', class: 'remove-row', onclick: () => { row.remove(); sync(); } }, 'Remove'));
    row.addEventListener('input', sync);
    rows.append(row);
    sync();
  };
  const numbered = (item, i) => (field.columns.some(([name]) => name === 'order') ? { order: i + 1, ...item } : item);
  // Filled from outside (an edit) or emptied (a reset): draw the rows again.
  const redraw = () => {
    let items = [];
    try { items = store.value ? JSON.parse(store.value) : []; } catch { items = []; }
    rows.replaceChildren();
    items.forEach((item, i) => addRow(numbered(item, i)));
    sync();
  };
  store.addEventListener('change', redraw);
  queueMicrotask(() => store.form?.addEventListener('reset', () => setTimeout(redraw)));
  const add = h('button', { type: 'button', class: 'add-row', onclick: () => addRow(numbered({}, rows.children.length)) }, field.add);
  return h('div', { class: 'rows-editor' }, store, rows, add, h('p', { class: 'muted help' }, field.help));
}

function fieldInput(field) {
  if (field.type === 'module') return moduleSelect(field);
  if (field.type === 'rows') return rowsEditor(field);
  if (field.options) return h('select', { name: field.name }, field.options.map((o) => h('option', { value: o }, o)));
  if (field.type === 'json') return h('textarea', { name: field.name, rows: 3, placeholder: field.example ?? '' });
  if (field.type === 'checkbox') return h('input', { name: field.name, type: 'checkbox', checked: field.checked });
  const type = { number: 'number', email: 'email', password: 'password' }[field.type] ?? 'text';
  return h('input', { name: field.name, type, required: field.required, placeholder: field.example ?? '' });
}

// `spec`: {kind, title, singular, path (the collection's URL), id(row), columns:
// [[key, label, show(value) (default: cell)]], fields (none: no create form), body(values) (default: as typed),
// remove (false: rows cannot be deleted), bulkRemove(ids) (rows get checkboxes and a
// "Delete selected" button that calls it), actions(row) (more of a row's cell), extra()
// (a section after the list and form, given the list's reload), created(answer) (what to say after a create), bodyKeys
// (the API body's fields: rows can be edited, and a save sends them all back)}.
function entityList(spec) {
  const state = { rows: [], query: '', perPage: 10, page: 0 };
  const body = h('tbody');
  const pageInfo = h('span', { class: 'muted' });
  const search = h('input', { type: 'search', placeholder: `Search ${spec.title.toLowerCase()}`, 'aria-label': 'Search' });
  const perPage = h('select', { 'aria-label': 'Rows per page' }, [10, 25, 100].map((n) => h('option', { value: n }, `${n} per page`)));
  const previous = h('button', {}, '‹');
  const next = h('button', {}, '›');
  const listError = h('p', { class: 'error', id: `${spec.kind}-error` });
  const removable = spec.remove !== false;
  // Bulk delete: the ids ticked, kept across searches and pages until deleted.
  const ticked = new Set();
  const tickAll = h('input', { type: 'checkbox', 'aria-label': 'Select all shown' });
  const deleteTicked = h('button', { class: 'delete-selected', disabled: true }, 'Delete selected');
  const tickedChanged = () => {
    deleteTicked.disabled = ticked.size === 0;
    deleteTicked.textContent = ticked.size ? `Delete ${ticked.size} selected` : 'Delete selected';
  };
  function tickBox(id) {
    const box = h('input', { type: 'checkbox', class: 'tick', 'aria-label': `Select ${id}` });
    box.checked = ticked.has(id);
    box.addEventListener('change', () => { if (box.checked) ticked.add(id); else ticked.delete(id); tickedChanged(); });
    return box;
  }
  tickAll.addEventListener('change', () => {
    for (const box of body.querySelectorAll('input.tick')) {
      box.checked = tickAll.checked;
      box.dispatchEvent(new Event('change'));
    }
  });
  deleteTicked.addEventListener('click', async () => {
    listError.textContent = '';
    try {
      await spec.bulkRemove([...ticked]);
      ticked.clear();
      tickAll.checked = false;
      tickedChanged();
      await reload();
    } catch (error) {
      listError.textContent = error.message;
    }
  });

  async function remove(row) {
    listError.textContent = '';
    try {
      await api('DELETE', `${spec.path}/${encodeURIComponent(spec.id(row))}`);
      await reload();
    } catch (error) {
      listError.textContent = error.message;
    }
  }

  function draw() {
    const query = state.query.toLowerCase();
    const matching = state.rows.filter((row) => !query || JSON.stringify(row).toLowerCase().includes(query));
    const pages = Math.max(1, Math.ceil(matching.length / state.perPage));
    state.page = Math.min(state.page, pages - 1);
    const shown = matching.slice(state.page * state.perPage, (state.page + 1) * state.perPage);
    body.replaceChildren(...shown.map((row) => h('tr', { 'data-id': spec.id(row) },
      spec.bulkRemove ? h('td', {}, tickBox(spec.id(row))) : null,
      spec.columns.map(([key, , show]) => h('td', {}, (show ?? cell)(row[key]))),
      spec.actions ? h('td', {}, spec.actions(row)) : null,
      spec.bodyKeys ? h('td', {}, h('button', { class: 'edit', onclick: () => edit(row) }, 'Edit')) : null,
      removable ? h('td', {}, h('button', { class: 'delete', onclick: () => remove(row) }, 'Delete')) : null)));
    if (!shown.length) {
      body.append(h('tr', {}, h('td', { colspan: spec.columns.length + 2, class: 'muted' }, 'Nothing here yet.')));
    }
    pageInfo.textContent = `${matching.length} in all · page ${state.page + 1} of ${pages}`;
    previous.disabled = state.page === 0;
    next.disabled = state.page >= pages - 1;
  }

  async function reload() {
    const data = await api('GET', spec.listPath ?? spec.path);
    state.rows = spec.rows ? spec.rows(data) : (Array.isArray(data) ? data : data?.items ?? []);
    const present = new Set(state.rows.map(spec.id));
    for (const id of ticked) if (!present.has(id)) ticked.delete(id);
    tickedChanged();
    draw();
  }

  search.addEventListener('input', () => { state.query = search.value; state.page = 0; draw(); });
  perPage.addEventListener('change', () => { state.perPage = Number(perPage.value); state.page = 0; draw(); });
  previous.addEventListener('click', () => { state.page -= 1; draw(); });
  next.addEventListener('click', () => { state.page += 1; draw(); });
  reload().catch((error) => { listError.textContent = error.message; });

  const listSection = h('section', {}, h('h1', {}, spec.title),
    h('div', { class: 'tools' }, search, perPage, spec.bulkRemove ? deleteTicked : null),
    h('table', { id: `${spec.kind}-table` }, h('thead', {}, h('tr', {},
      spec.bulkRemove ? h('th', {}, tickAll) : null,
      spec.columns.map(([, label]) => h('th', {}, label)), spec.actions ? h('th', {}) : null,
      spec.bodyKeys ? h('th', {}) : null, removable ? h('th', {}) : null)), body),
    h('div', { class: 'pager' }, pageInfo, previous, next), listError);
  if (!spec.fields) return h('div', {}, listSection, spec.extra ? spec.extra(reload) : null);

  const errors = {};
  const formError = h('p', { class: 'error' });
  const created = h('p', { class: 'muted', id: `${spec.kind}-created` });
  const heading = h('h2', {}, `New ${spec.singular}`);
  const save = h('button', { class: 'primary', type: 'submit' }, 'Create');
  const cancel = h('button', { type: 'button', hidden: true }, 'Cancel');
  const form = h('form', { class: 'grid', id: `create-${spec.kind}` },
    spec.fields.map((field) => {
      errors[field.name] = h('span', { class: 'field-error', 'data-field': field.name });
      // Rows hold labelled inputs of their own, so they are a fieldset, not a label.
      if (field.type === 'rows') return h('fieldset', { class: 'wide' }, h('legend', {}, field.label), fieldInput(field), errors[field.name]);
      return h('label', {}, field.label, fieldInput(field), errors[field.name]);
    }),
    h('div', {}, save, ' ', cancel));
  // Editing: the form shows the row; saving sends the whole entity back (PUT) with the
  // form's fields changed, so fields the form does not show keep their values.
  let editing = null;
  function stopEditing() {
    editing = null;
    form.reset();
    heading.textContent = `New ${spec.singular}`;
    save.textContent = 'Create';
    cancel.hidden = true;
  }
  function edit(row) {
    editing = row;
    heading.textContent = `Edit ${spec.singular} ${spec.id(row)}`;
    save.textContent = 'Save';
    cancel.hidden = false;
    for (const field of spec.fields) {
      const input = form.elements[field.name];
      const value = row[field.name];
      if (field.type === 'checkbox') input.checked = !!value;
      else if (field.type === 'password') input.value = '';
      else if (field.type === 'json') input.value = value === undefined || value === null ? '' : JSON.stringify(value);
      else if (field.type === 'rows') {
        input.value = value?.length ? JSON.stringify(value) : '';
        input.dispatchEvent(new Event('change'));
      }
      else if (field.type === 'list') input.value = (value ?? []).join(', ');
      else if (input.tagName === 'SELECT') selectValue(input, cell(value));
      else input.value = cell(value);
    }
    form.scrollIntoView();
  }
  cancel.addEventListener('click', stopEditing);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    Object.values(errors).forEach((e) => { e.textContent = ''; });
    form.querySelectorAll('.invalid').forEach((input) => input.classList.remove('invalid'));
    formError.textContent = '';
    created.textContent = '';
    try {
      const values = {};
      const cleared = [];
      for (const field of spec.fields) {
        const raw = form.elements[field.name].type === 'checkbox'
          ? (form.elements[field.name].checked ? 'on' : '') : form.elements[field.name].value;
        if (raw !== '' || field.type === 'checkbox') values[field.name] = fieldValue(field, raw);
        // An optional field emptied in an edit goes back to the API's default; an empty
        // password field means "unchanged".
        else if (field.type !== 'password') cleared.push(field.name);
      }
      if (editing) {
        const whole = Object.fromEntries(spec.bodyKeys.filter((k) => k in editing && !cleared.includes(k)).map((k) => [k, editing[k]]));
        await api('PUT', `${spec.path}/${encodeURIComponent(spec.id(editing))}`, { ...whole, ...values });
      } else {
        const answer = await api('POST', spec.path, spec.body ? spec.body(values) : values);
        if (spec.created) created.textContent = spec.created(answer);
      }
      stopEditing();
      await reload();
    } catch (error) {
      const target = error.field && errors[error.field.split(/[.[]/)[0]];
      (target ?? formError).textContent = error.message;
      // A row's field (`rules[2].weekday`): say which, and mark its input.
      const inRow = /^(\w+)\[(\d+)\]\.(\w+)/.exec(error.field ?? '');
      if (inRow && target) {
        const [, list, index, name] = inRow;
        target.textContent = `Row ${Number(index) + 1}, ${name}: ${error.message.replace(`${error.field}: `, '')}`;
        form.elements[list]?.parentElement.querySelectorAll('.row')[index]?.querySelector(`[data-name="${name}"]`)?.classList.add('invalid');
      }
    }
  });
  return h('div', {}, listSection, h('section', {}, heading, form, formError, created),
    spec.extra ? spec.extra(reload) : null);
}

// --- the roles' pages ---

const DESTINATION_HELP = 'extension:101, queue:sales, ivr:main, voicemail:office, hang_up';

function operatorSections() {
  return [
    {
      kind: 'companies', title: 'Companies', singular: 'company', path: '/api/v1/companies',
      bodyKeys: ['id', 'name', 'max_extensions', 'time_zone', 'sip_domain', 'trunk', 'secondary_trunk', 'decision_deadline_ms', 'decision_memory_mib', 'permissions_module', 'permissions_config', 'recording_retention_days', 'recording_quota_mb'],
      id: (company) => company.id,
      columns: [['id', 'Id'], ['name', 'Name'], ['sip_domain', 'SIP domain'], ['max_extensions', 'Max extensions'], ['time_zone', 'Time zone']],
      actions: (company) => h('button', { class: 'open-company', onclick: () => { opened = company.id; location.hash = ''; render(); } }, 'Open'),
      fields: [
        { name: 'id', label: 'Id', required: true },
        { name: 'name', label: 'Name', required: true },
        { name: 'sip_domain', label: 'SIP domain' },
        { name: 'max_extensions', label: 'Max extensions', type: 'number', required: true },
        { name: 'time_zone', label: 'Time zone', required: true, example: 'Europe/Madrid' },
      ],
    },
    {
      kind: 'bans', title: 'Banned addresses', singular: 'ban', path: '/api/v1/security/bans',
      id: (ban) => ban.ip, columns: [['ip', 'Address'], ['reason', 'Reason'], ['until', 'Until']],
    },
    {
      kind: 'whitelist', title: 'Never banned', singular: 'trusted network', path: '/api/v1/security/whitelist',
      id: (entry) => entry.cidr, columns: [['cidr', 'Network'], ['description', 'Why']],
      fields: [{ name: 'cidr', label: 'Network', required: true, example: '10.0.0.0/8' }, { name: 'description', label: 'Why' }],
    },
    { kind: 'service-codes', title: 'Service codes', page: () => serviceCodesPage(null) },
    { kind: 'standard-modules', title: 'Standard modules', page: standardModulesPage },
    { kind: 'audit', title: 'Audit log', path: '/api/v1/audit', remove: false, id: (e) => e.seq,
      columns: [['at', 'When'], ['actor', 'Who'], ['action', 'Action'], ['entity', 'What'], ['client_ip', 'From']] },
  ];
}

function adminSections(companyId) {
  const company = `/api/v1/companies/${encodeURIComponent(companyId)}`;
  return [
    {
      kind: 'users', title: 'Users', singular: 'user', path: `${company}/users`, id: (user) => user.extension,
      bodyKeys: ['extension', 'role', 'email', 'full_name', 'internal_only', 'mobile', 'outgoing_caller_id', 'recording', 'web_phone_mode'],
      extra: (reload) => usersImport(`${company}/users`, reload),
      columns: [['extension', 'Extension'], ['full_name', 'Name'], ['email', 'Email'], ['role', 'Role'], ['web_phone_mode', 'Web phone']],
      fields: [
        { name: 'extension', label: 'Extension', required: true },
        { name: 'full_name', label: 'Full name', required: true },
        { name: 'email', label: 'Email', type: 'email', required: true },
        { name: 'role', label: 'Role', options: ['user', 'admin'] },
        { name: 'web_phone_mode', label: 'Web phone', options: ['multi_device', 'exclusive'] },
        { name: 'portal_password', label: 'Portal password', type: 'password' },
      ],
    },
    { kind: 'user-devices', title: 'Devices', page: () => adminDevicesPage(company) },
    {
      kind: 'dids', title: 'DIDs', singular: 'DID', path: `${company}/dids`, id: (did) => did.number,
      bodyKeys: ['number', 'description', 'forward', 'rules', 'default_destination', 'fallback_destination', 'module', 'config'],
      extra: () => didTryIt(company),
      columns: [['number', 'Number'], ['description', 'Description'], ['default_destination', 'Default destination'], ['rules', 'Rules', rulesSummary]],
      fields: [
        { name: 'number', label: 'Number', required: true, example: '34910000000' },
        { name: 'description', label: 'Description' },
        { name: 'default_destination', label: 'Default destination', type: 'destination', required: true, example: DESTINATION_HELP },
        { name: 'module', label: 'Deciding module', type: 'module', decision: 'did-routing', standard: 'did-router', company },
        { name: 'rules', label: 'Time rules', type: 'rows', columns: RULE_FIELDS, help: RULES_HELP, add: 'Add rule' },
      ],
    },
    {
      kind: 'aliases', title: 'Aliases', singular: 'alias', path: `${company}/aliases`, id: (alias) => alias.number,
      bodyKeys: ['number', 'target', 'display_name', 'description'],
      columns: [['number', 'Number'], ['target', 'Dials'], ['display_name', 'Name'], ['description', 'Description']],
      fields: [
        { name: 'number', label: 'Short number', required: true },
        { name: 'target', label: 'Dials', required: true },
        { name: 'display_name', label: 'Name', required: true },
        { name: 'description', label: 'Description' },
      ],
    },
    {
      kind: 'external-numbers', title: 'External numbers', singular: 'external number', path: `${company}/external-numbers`,
      bodyKeys: ['name', 'number', 'description'],
      id: (n) => n.name, columns: [['name', 'Name'], ['number', 'Number'], ['description', 'Description']],
      fields: [{ name: 'name', label: 'Name', required: true }, { name: 'number', label: 'Number', required: true }, { name: 'description', label: 'Description' }],
    },
    {
      kind: 'ivr-menus', title: 'IVR menus', singular: 'menu', path: `${company}/ivr-menus`, id: (menu) => menu.name,
      bodyKeys: ['name', 'number', 'greeting', 'allow_dialing', 'options', 'no_input', 'invalid', 'timeout_seconds', 'repeats', 'module', 'config'],
      columns: [['name', 'Name'], ['number', 'Number'], ['greeting', 'Greeting'], ['options', 'Keys', (keys) => (keys ?? []).map((k) => h('div', {}, `${k.key} → ${cell(k.destination)}`))]],
      fields: [
        { name: 'name', label: 'Name', required: true },
        { name: 'number', label: 'Number', required: true },
        { name: 'greeting', label: 'Greeting prompt' },
        { name: 'timeout_seconds', label: 'Timeout (s)', type: 'number' },
        { name: 'options', label: 'Keys', type: 'rows', columns: MENU_KEY_FIELDS, help: MENU_KEYS_HELP, add: 'Add key' },
        { name: 'module', label: 'Deciding module', type: 'module', decision: 'ivr', standard: 'ivr', company },
      ],
    },
    {
      kind: 'queues', title: 'Queues', singular: 'queue', path: `${company}/queues`, id: (queue) => queue.name,
      bodyKeys: ['name', 'number', 'max_waiting', 'step_timeout_seconds', 'max_time_seconds', 'wrap_up_seconds', 'members', 'autoanswer', 'ring_busy_agents', 'music_on_hold', 'remember_agent', 'show_queue_name', 'unanswered_destination', 'after_destination', 'strategy', 'module', 'config'],
      columns: [['name', 'Name'], ['number', 'Number'], ['strategy', 'Strategy'], ['members', 'Agents', (agents) => (agents ?? []).map((a) => `${a.extension} (${a.order})`).join(', ')]],
      fields: [
        { name: 'name', label: 'Name', required: true },
        { name: 'number', label: 'Number', required: true },
        { name: 'strategy', label: 'Strategy', options: ['ring_all', 'linear', 'grouped_linear', 'round_robin'] },
        { name: 'members', label: 'Agents', type: 'rows', columns: AGENT_FIELDS, help: AGENTS_HELP, add: 'Add agent' },
        { name: 'unanswered_destination', label: 'When unanswered', type: 'destination', example: DESTINATION_HELP },
        { name: 'module', label: 'Deciding module', type: 'module', decision: 'queue-strategy', standard: 'queue-strategy', company },
      ],
    },
    {
      kind: 'voicemail-boxes', title: 'Voicemail boxes', singular: 'box', path: `${company}/voicemail-boxes`, id: (box) => box.name,
      bodyKeys: ['name', 'number', 'email', 'greeting', 'retention_days', 'pin', 'max_message_seconds', 'owner'],
      columns: [['name', 'Name'], ['number', 'Number'], ['email', 'Email'], ['owner', 'Owner'], ['retention_days', 'Kept (days)']],
      fields: [
        { name: 'name', label: 'Name', required: true },
        { name: 'number', label: 'Number', required: true },
        { name: 'email', label: 'Email', type: 'email', required: true },
        { name: 'pin', label: 'PIN' },
        { name: 'owner', label: 'Owner (the extension whose portal shows it)' },
        { name: 'retention_days', label: 'Kept (days)', type: 'number' },
        { name: 'max_message_seconds', label: 'Longest message (s)', type: 'number' },
      ],
    },
    {
      kind: 'pickup-groups', title: 'Pickup groups', singular: 'group', path: `${company}/pickup-groups`, id: (group) => group.name,
      bodyKeys: ['name', 'members'],
      columns: [['name', 'Name'], ['members', 'Members']],
      fields: [{ name: 'name', label: 'Name', required: true }, { name: 'members', label: 'Members', type: 'list', example: '101, 102' }],
    },
    {
      kind: 'rooms', title: 'Conference rooms', singular: 'room', path: `${company}/rooms`, id: (room) => room.id,
      columns: [['name', 'Name'], ['number', 'Number'], ['link', 'Share link'], ['participants', 'In it now']],
      actions: (room) => h('button', { class: 'copy-link', onclick: (event) => {
        navigator.clipboard.writeText(room.link).then(() => { event.target.textContent = 'Copied'; },
          () => { event.target.textContent = 'Copy it from the table'; });
      } }, 'Copy link'),
      fields: [{ name: 'name', label: 'Name', required: true }, { name: 'pin', label: 'PIN' }, { name: 'number', label: 'Number' }],
    },
    {
      kind: 'prompts', title: 'Prompts', path: `${company}/prompts`, id: (prompt) => prompt.name,
      columns: [['name', 'Name'], ['source', 'Source'], ['duration_ms', 'Length (ms)']],
      actions: (prompt) => h('audio', { controls: true, preload: 'none', src: `${company}/prompts/${encodeURIComponent(prompt.name)}/audio` }),
      extra: (reload) => promptUpload(`${company}/prompts`, reload),
    },
    {
      ...recordingsSpec(company),
      bulkRemove: async (ids) => {
        const result = await api('POST', `${company}/recordings/delete`, { ids });
        if (result.not_found.length) throw new Error(`Already gone: ${result.not_found.join(', ')}`);
      },
    },
    {
      kind: 'api-keys', title: 'API keys', singular: 'key', path: `${company}/api-keys`, id: (key) => key.id,
      columns: [['name', 'Name'], ['user', 'For user'], ['created_at', 'Created']],
      fields: [{ name: 'name', label: 'Name', required: true }, { name: 'user', label: 'For user (extension, optional)' }],
      created: (answer) => `The new key (shown once): ${answer.key}`,
    },
    { kind: 'service-codes', title: 'Service codes', page: () => serviceCodesPage(company) },
    { kind: 'live', title: 'Live', page: () => livePage(company) },
    { kind: 'modules', title: 'Modules', page: () => modulesPage(company) },
    { kind: 'cdrs', title: 'Calls', page: () => cdrPage(company) },
    { kind: 'audit', title: 'Audit log', path: `${company}/audit`, remove: false, id: (e) => e.seq,
      columns: [['at', 'When'], ['actor', 'Who'], ['action', 'Action'], ['entity', 'What'], ['client_ip', 'From']] },
  ];
}

// --- call records: SPEC §9's filters, CSV, and calls per hour drawn as SVG ---

function cdrPage(company) {
  const form = h('form', { class: 'grid', id: 'cdr-filters' },
    h('label', {}, 'Direction', h('select', { name: 'direction' }, ['', 'inbound', 'outbound', 'internal'].map((o) => h('option', { value: o }, o || 'any')))),
    h('label', {}, 'Status', h('select', { name: 'status' }, ['', 'answered', 'unanswered', 'no_answer', 'busy', 'cancelled', 'failed'].map((o) => h('option', { value: o }, o || 'any')))),
    h('label', {}, 'From (day)', h('input', { name: 'from', type: 'date' })),
    h('label', {}, 'To (day)', h('input', { name: 'to', type: 'date' })),
    h('label', {}, 'Number', h('input', { name: 'number', inputmode: 'tel' })),
    h('div', {}, h('button', { class: 'primary', type: 'submit' }, 'Show')));
  const csv = h('a', { id: 'cdr-csv', href: '#' }, 'Download CSV');
  const chart = h('div', { id: 'cdr-chart' });
  const table = h('tbody');
  const error = h('p', { class: 'error' });
  const summary = h('p', { class: 'muted', id: 'cdr-summary' });

  async function load() {
    const query = new URLSearchParams([...new FormData(form)].filter(([, v]) => v !== ''));
    csv.href = `${company}/cdrs.csv?${query}`;
    query.set('limit', '1000');
    error.textContent = '';
    try {
      const page = await api('GET', `${company}/cdrs?${query}`);
      const records = page.items ?? [];
      const answered = records.filter((r) => r.status === 'answered').length;
      summary.textContent = `${records.length} calls · ${answered} answered · ${records.length - answered} unanswered`;
      table.replaceChildren(...records.map((r) => h('tr', { 'data-id': r.id },
        [r.started_at, r.caller, r.called, r.direction, r.status, r.talk_s].map((v) => h('td', {}, cell(v))))));
      chart.replaceChildren(callsPerHour(records));
      dayChart.replaceChildren(callsPerDay(records, form.from.value, form.to.value));
    } catch (failure) {
      error.textContent = failure.message;
    }
    // The queues' waits over the same days (today when no day is chosen).
    const range = new URLSearchParams([['from', form.from.value], ['to', form.to.value]].filter(([, v]) => v));
    waitsTitle.textContent = form.from.value || form.to.value
      ? `Queues, ${form.from.value || 'start'} to ${form.to.value || 'today'}: average wait to answer`
      : 'Queues today: average wait to answer';
    try {
      waits.replaceChildren(queueWaits(await api('GET', `${company}/queues/stats?${range}`)));
    } catch (failure) {
      waits.replaceChildren(h('p', { class: 'error' }, failure.message));
    }
  }
  const dayChart = h('div', { id: 'cdr-days' });
  const waits = h('div', { id: 'queue-waits' });
  const waitsTitle = h('h2', {});
  form.addEventListener('submit', (event) => { event.preventDefault(); load(); });
  load();
  return h('div', {},
    h('section', {}, h('h1', {}, 'Calls'), form, error, summary, csv),
    h('section', {}, h('h2', {}, 'Calls per day'), dayChart),
    h('section', {}, h('h2', {}, 'Calls per hour of the day'), chart),
    h('section', {}, waitsTitle, waits),
    h('section', {}, h('table', { id: 'cdrs-table' }, h('thead', {}, h('tr', {},
      ['Started', 'From', 'To', 'Direction', 'Status', 'Talk (s)'].map((t) => h('th', {}, t)))), table)));
}

// An SVG element, as h() makes HTML ones.
function svg(tag, attributes, text) {
  const element = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, value);
  if (text !== undefined) element.textContent = text;
  return element;
}

// A day as the browser shows it (local time): 2026-12-06.
function localDay(date) {
  const pad = (n) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
}

// Longest period the day chart draws, in days (a bar each).
const MAX_CHART_DAYS = 92;

// A bar per day from `from` to `to` (chosen days, else the records' first and last), the
// last MAX_CHART_DAYS of it: answered calls in blue, the rest in grey.
function callsPerDay(records, from, to) {
  const counts = new Map();
  for (const record of records) {
    const day = localDay(new Date(record.started_at));
    const count = counts.get(day) ?? { answered: 0, other: 0 };
    count[record.status === 'answered' ? 'answered' : 'other'] += 1;
    counts.set(day, count);
  }
  const known = [...counts.keys()].sort();
  const last = new Date(`${to || known[known.length - 1] || localDay(new Date())}T12:00`);
  const first = new Date(`${from || known[0] || localDay(last)}T12:00`);
  const days = [];
  for (let day = new Date(last); day >= first && days.length < MAX_CHART_DAYS; day.setDate(day.getDate() - 1)) {
    days.unshift(localDay(day));
  }
  const most = Math.max(1, ...days.map((d) => (counts.get(d)?.answered ?? 0) + (counts.get(d)?.other ?? 0)));
  const [width, height] = [480, 120];
  const bar = width / Math.max(days.length, 1);
  const root = svg('svg', { viewBox: `0 0 ${width} ${height + 16}`, width: '100%', role: 'img', 'aria-label': 'calls per day' });
  const labelEvery = Math.ceil(days.length / 6);
  days.forEach((day, i) => {
    const count = counts.get(day) ?? { answered: 0, other: 0 };
    const answered = (count.answered / most) * height;
    const other = (count.other / most) * height;
    const x = i * bar + bar * 0.1;
    root.append(svg('rect', { x, y: height - answered, width: bar * 0.8, height: answered, fill: '#1f6feb', 'data-day': day, 'data-calls': count.answered + count.other }));
    root.append(svg('rect', { x, y: height - answered - other, width: bar * 0.8, height: other, fill: '#b8bfcc' }));
    if (i % labelEvery === 0) root.append(svg('text', { x, y: height + 13, 'font-size': 10, fill: '#6b7385' }, day.slice(5)));
  });
  return root;
}

// A bar per hour of the day (local time): answered calls in blue, the rest in grey.
function callsPerHour(records) {
  const hours = Array.from({ length: 24 }, () => ({ answered: 0, other: 0 }));
  for (const record of records) {
    const hour = new Date(record.started_at).getHours();
    hours[hour][record.status === 'answered' ? 'answered' : 'other'] += 1;
  }
  const most = Math.max(1, ...hours.map((h) => h.answered + h.other));
  const [width, height, bar] = [480, 120, 20];
  const root = svg('svg', { viewBox: `0 0 ${width} ${height + 16}`, width: '100%', role: 'img', 'aria-label': 'calls per hour' });
  hours.forEach((hour, i) => {
    const answered = (hour.answered / most) * height;
    const other = (hour.other / most) * height;
    root.append(svg('rect', { x: i * bar + 2, y: height - answered, width: bar - 4, height: answered, fill: '#1f6feb', 'data-hour': i }));
    root.append(svg('rect', { x: i * bar + 2, y: height - answered - other, width: bar - 4, height: other, fill: '#b8bfcc' }));
    if (i % 3 === 0) {
      root.append(svg('text', { x: i * bar + 2, y: height + 13, 'font-size': 10, fill: '#6b7385' }, String(i).padStart(2, '0')));
    }
  });
  return root;
}

// --- routing modules: upload, versions, counters, activate and roll back ---

// A module's version controls: pick a version and activate it, roll back, and for a
// standard module go back to the standard one. `path` is the module's URL.
function versionControls(m, path, act) {
  if (!m.versions.length) return null;
  const pick = h('select', { 'aria-label': `version of ${m.name}` }, m.versions.map((v) => h('option', { value: v.version }, `v${v.version}`)));
  return [pick, ' ',
    h('button', { onclick: act(() => api('POST', `${path}/activate`, { version: Number(pick.value) })) }, 'Activate'), ' ',
    h('button', { class: 'rollback', onclick: act(() => api('POST', `${path}/rollback`)) }, 'Roll back'), ' ',
    m.standard && m.active ? h('button', { class: 'use-standard', onclick: act(() => api('POST', `${path}/deactivate`)) }, 'Use standard') : null];
}

// A module upload form: `path(name)` is where the bytes go; `name` is the name's input
// (default: free text).
function moduleUploadForm(path, act, name = h('input', { name: 'name', required: true })) {
  const form = h('form', { class: 'grid', id: 'upload-module' },
    h('label', {}, 'Name', name),
    h('label', {}, 'Component (.wasm)', h('input', { name: 'file', type: 'file', accept: '.wasm,application/wasm', required: true })),
    h('label', {}, 'May send mail', h('input', { name: 'grant_mail', type: 'checkbox' })),
    h('label', {}, 'HTTP hosts it may reach', h('input', { name: 'http_allow', placeholder: 'crm.example.com:443' })),
    h('div', {}, h('button', { class: 'primary', type: 'submit' }, 'Upload')));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const query = new URLSearchParams();
    if (form.grant_mail.checked) query.set('grant_mail', 'true');
    if (form.http_allow.value) query.set('http_allow', form.http_allow.value);
    await act(() => api('PUT', `${path(form.name.value)}?${query}`, form.file.files[0], 'application/wasm'))();
  });
  return form;
}

// The operator's standard modules: what each built-in one decides and imports, which
// companies replaced it, and the operator's own versions, which decide for every company
// without one of its own.
function standardModulesPage() {
  const rows = h('tbody');
  const error = h('p', { class: 'error', id: 'modules-error' });
  const act = (what) => async () => {
    error.textContent = '';
    try { await what(); await load(); } catch (failure) { error.textContent = failure.message; }
  };
  const path = (name) => `/api/v1/standard-modules/${encodeURIComponent(name)}`;
  const names = h('select', { name: 'name', required: true });
  async function load() {
    const modules = await api('GET', '/api/v1/standard-modules');
    if (!names.options.length) names.append(...modules.map((m) => h('option', { value: m.name }, m.name)));
    rows.replaceChildren(...modules.map((m) => h('tr', { 'data-id': m.name },
      h('td', {}, m.name),
      h('td', {}, `${m.decisions.join(', ')} · imports ${m.imports.join(', ') || 'none'} · ${m.size} bytes`),
      h('td', { class: 'active-version' }, m.active ? `operator's v${m.active}` : 'built in'),
      h('td', { class: 'replaced-in' }, m.replaced_in.join(', ') || 'no company'),
      h('td', {}, `${m.counters.decisions} decisions, ${m.counters.failures} failed`,
        m.counters.last_failure ? h('div', { class: 'error' }, m.counters.last_failure) : null),
      h('td', {}, versionControls({ ...m, standard: true }, path(m.name), act)))));
  }
  load().catch((failure) => { error.textContent = failure.message; });
  return h('div', {},
    h('section', {}, h('h1', {}, 'Standard modules'), h('table', { id: 'standard-modules-table' }, h('thead', {}, h('tr', {},
      ['Module', 'Built in', 'Decides now', 'Replaced in', 'Since start', ''].map((t) => h('th', {}, t)))), rows), error),
    h('section', {}, h('h2', {}, 'Upload the operator\'s version of a standard module'), moduleUploadForm(path, act, names)));
}

function modulesPage(company) {
  const rows = h('tbody');
  const error = h('p', { class: 'error', id: 'modules-error' });
  const act = (what) => async () => {
    error.textContent = '';
    try { await what(); await load(); } catch (failure) { error.textContent = failure.message; }
  };
  const path = (name) => `${company}/modules/${encodeURIComponent(name)}`;
  async function load() {
    const modules = await api('GET', `${company}/modules`);
    rows.replaceChildren(...modules.map((m) => {
      const latest = m.versions[m.versions.length - 1];
      return h('tr', { 'data-id': m.name },
        h('td', {}, m.name, m.standard ? h('span', { class: 'muted' }, ' (standard)') : null),
        h('td', { class: 'active-version' }, m.active ? `v${m.active}` : 'standard'),
        h('td', {}, latest ? `${latest.decisions.join(', ')} · imports ${latest.imports.join(', ') || 'none'}` : 'built in'),
        h('td', {}, `${m.counters.decisions} decisions, ${m.counters.failures} failed`,
          m.counters.last_failure ? h('div', { class: 'error' }, m.counters.last_failure) : null),
        h('td', {}, versionControls(m, path(m.name), act)));
    }));
  }
  const form = moduleUploadForm(path, act);
  load().catch((failure) => { error.textContent = failure.message; });
  return h('div', {},
    h('section', {}, h('h1', {}, 'Routing modules'), h('table', { id: 'modules-table' }, h('thead', {}, h('tr', {},
      ['Module', 'Active', 'Decides', 'Since start', ''].map((t) => h('th', {}, t)))), rows), error),
    h('section', {}, h('h2', {}, 'Upload a version'), form));
}

// --- live: the company's calls as they happen, and who waits in its queues ---

function livePage(company) {
  const calls = h('tbody');
  const queues = h('tbody');
  const status = h('p', { class: 'muted', id: 'live-status' }, 'Connecting…');
  const since = (ms) => `${Math.max(0, Math.round((Date.now() - ms) / 1000))} s`;
  const drawCalls = (list) => {
    calls.replaceChildren(...list.map((call) => h('tr', { 'data-id': call.call_id },
      [call.caller_name ? `${call.caller_name} (${call.caller})` : call.caller, call.called, call.state,
        call.users.join(', '), since(call.started_ms)].map((v) => h('td', {}, v)))));
    if (!list.length) calls.append(h('tr', {}, h('td', { colspan: 5, class: 'muted' }, 'No calls now.')));
  };
  const drawQueues = async () => {
    const stats = await api('GET', `${company}/queues/stats`).catch(() => []);
    queues.replaceChildren(...stats.map((q) => h('tr', { 'data-id': q.queue },
      [q.queue, q.live.waiting, `${Math.round(q.live.longest_waiting_ms / 1000)} s`].map((v) => h('td', {}, String(v))))));
  };
  // The event stream authenticates with the session cookie; each event asks for a fresh
  // snapshot, so the table is always the host's own view of the calls.
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  const socket = new WebSocket(`${scheme}://${location.host}${company}/events`);
  socket.onopen = () => { status.textContent = 'Live.'; };
  socket.onclose = () => { status.textContent = 'Disconnected: reload the page to reconnect.'; };
  socket.onmessage = (message) => {
    const data = JSON.parse(message.data);
    if (data.type === 'snapshot') drawCalls(data.calls);
    else if (data.type === 'event' || data.type === 'lagged') {
      socket.send(JSON.stringify({ type: 'snapshot' }));
      drawQueues();
    }
  };
  drawQueues();
  const page = h('div', { id: 'live' },
    h('section', {}, h('h1', {}, 'Calls now'), status, h('table', { id: 'live-calls' }, h('thead', {}, h('tr', {},
      ['From', 'To', 'State', 'Users', 'For'].map((t) => h('th', {}, t)))), calls)),
    h('section', {}, h('h2', {}, 'Queues now'), h('table', { id: 'live-queues' }, h('thead', {}, h('tr', {},
      ['Queue', 'Waiting', 'Longest wait'].map((t) => h('th', {}, t)))), queues)));
  // Leaving the section closes the stream.
  window.addEventListener('hashchange', () => socket.close(), { once: true });
  return page;
}

// --- service codes (SPEC §7): the operator's, and a company's overrides of them ---

const SERVICE_CODES = [['pickup_direct', 'Direct pickup (+ extension)'], ['pickup_group', 'Group pickup'],
  ['voicemail_access', 'Voicemail access (+ box)'], ['record_on_demand', 'Record on demand']];

// `company`: a company's URL (its overrides; empty = the operator's code), else the operator's.
function serviceCodesPage(company) {
  const path = company ? `${company}/service-codes` : '/api/v1/service-codes';
  const errors = {};
  const said = h('p', { id: 'codes-saved' });
  const form = h('form', { class: 'grid', id: 'service-codes' },
    SERVICE_CODES.map(([name, label]) => {
      errors[name] = h('span', { class: 'field-error', 'data-field': name });
      return h('label', {}, label, h('input', { name }), errors[name]);
    }),
    h('div', {}, h('button', { class: 'primary', type: 'submit' }, 'Save')));
  const show = (codes) => {
    const [values, placeholders] = company ? [codes.overrides, codes.effective] : [codes, {}];
    for (const [name] of SERVICE_CODES) {
      form.elements[name].value = values[name] ?? '';
      form.elements[name].placeholder = placeholders[name] ?? '';
    }
  };
  api('GET', path).then(show).catch((error) => { said.textContent = error.message; });
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    Object.values(errors).forEach((e) => { e.textContent = ''; });
    const body = Object.fromEntries(SERVICE_CODES.map(([name]) => [name, form.elements[name].value])
      .filter(([, value]) => value !== '' || !company));
    try {
      show(await api('PUT', path, body));
      said.textContent = 'Saved.';
    } catch (error) {
      (error.field && errors[error.field] ? errors[error.field] : said).textContent = error.message;
    }
  });
  const help = company ? 'Leave a code empty to use the operator\'s (shown greyed).' : 'Every company uses these unless it overrides them.';
  return h('section', {}, h('h1', {}, 'Service codes'), h('p', { class: 'muted' }, help), form, said);
}

// CSV (RFC 4180: quoted fields, doubled quotes) as rows of strings.
function parseCsv(text) {
  const rows = [];
  let row = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { field += '"'; i++; }
      else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') { row.push(field); field = ''; }
    else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      row.push(field); field = '';
      if (row.some((f) => f !== '')) rows.push(row);
      row = [];
    } else field += c;
  }
  row.push(field);
  if (row.some((f) => f !== '')) rows.push(row);
  return rows;
}

// Bulk import (SPEC §1): a CSV whose first line names the columns (extension, full_name,
// email, role, portal_password, …); all its users are created, or none.
function usersImport(users, reload) {
  const said = h('p', { id: 'import-result' });
  const form = h('form', { class: 'grid', id: 'import-users' },
    h('label', {}, 'CSV file (first line: extension,full_name,email,…)', h('input', { name: 'file', type: 'file', accept: '.csv,text/csv', required: true })),
    h('div', {}, h('button', { type: 'submit' }, 'Import')));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    said.className = '';
    try {
      const [header, ...rows] = parseCsv(await form.file.files[0].text());
      const bodies = rows.map((row) => Object.fromEntries(header.map((name, i) => [name.trim(), row[i]?.trim() ?? ''])
        .filter(([, value]) => value !== '')));
      const result = await api('POST', `${users}/import`, bodies);
      said.textContent = `Imported ${result.created} users.`;
      await reload();
    } catch (error) {
      said.className = 'error';
      said.textContent = `Nothing imported: ${error.message}`;
    }
  });
  return h('section', {}, h('h2', {}, 'Import users'), form, said);
}

// Upload a prompt in any common format (the host converts it once); `music-on-hold`
// replaces the company's music.
function promptUpload(prompts, reload) {
  const said = h('p', { class: 'muted', id: 'prompt-uploaded' });
  const form = h('form', { class: 'grid', id: 'upload-prompt' },
    h('label', {}, 'Name', h('input', { name: 'name', required: true, placeholder: 'welcome, music-on-hold…' })),
    h('label', {}, 'Audio (WAV, MP3, OGG, FLAC)', h('input', { name: 'file', type: 'file', accept: 'audio/*', required: true })),
    h('div', {}, h('button', { class: 'primary', type: 'submit' }, 'Upload')));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const file = form.file.files[0];
    try {
      await api('PUT', `${prompts}/${encodeURIComponent(form.name.value)}`, file, file.type || 'application/octet-stream');
      said.textContent = `Uploaded ${form.name.value}.`;
      await reload();
    } catch (error) {
      said.textContent = error.message;
    }
  });
  return h('section', {}, h('h2', {}, 'Upload a prompt'), form, said);
}

// A horizontal bar per queue: its average wait before an agent answered, in seconds.
function queueWaits(stats) {
  if (!stats.length) return h('p', { class: 'muted' }, 'No queues.');
  const most = Math.max(1, ...stats.map((q) => q.historical.average_answer_wait_ms));
  const root = svg('svg', { viewBox: `0 0 480 ${stats.length * 24}`, width: '100%', role: 'img', 'aria-label': 'average waits' });
  stats.forEach((q, i) => {
    const width = (q.historical.average_answer_wait_ms / most) * 300;
    root.append(svg('text', { x: 0, y: i * 24 + 15, 'font-size': 12, fill: '#1d2330' }, q.queue));
    root.append(svg('rect', { x: 120, y: i * 24 + 4, width: Math.max(width, 1), height: 14, fill: '#1f6feb', 'data-queue': q.queue }));
    root.append(svg('text', { x: 126 + width, y: i * 24 + 15, 'font-size': 11, fill: '#6b7385' },
      `${(q.historical.average_answer_wait_ms / 1000).toFixed(1)} s · ${q.historical.answered}/${q.historical.offered} answered`));
  });
  return root;
}

// The DIDs' dry run (SPEC §2): where a call from `caller` at a given time would go.
function didTryIt(company) {
  const result = h('p', { id: 'try-result' });
  const form = h('form', { class: 'grid', id: 'try-did' },
    h('label', {}, 'DID', h('input', { name: 'number', required: true })),
    h('label', {}, 'Caller', h('input', { name: 'caller', required: true, value: '600000000' })),
    h('label', {}, 'At (your local time)', h('input', { name: 'at', type: 'datetime-local' })),
    h('div', {}, h('button', { type: 'submit' }, 'Try it')));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const values = Object.fromEntries(new FormData(form));
    const body = { caller: values.caller };
    if (values.at) body.at = new Date(values.at).toISOString();
    try {
      const route = await api('POST', `${company}/dids/${encodeURIComponent(values.number)}/route`, body);
      result.textContent = `→ ${cell(route.destination)}`;
    } catch (error) {
      result.textContent = error.message;
    }
  });
  return h('section', {}, h('h2', {}, 'Try a call'), form, result);
}

// A page of sections with a menu; the section shown follows the URL's #hash.
function sectionsPage(sections) {
  const show = () => {
    const wanted = location.hash.slice(1);
    const section = sections.find((s) => s.kind === wanted) ?? sections[0];
    for (const link of nav.querySelectorAll('a')) link.classList.toggle('current', link.dataset.kind === section.kind);
    content.replaceChildren(section.page ? section.page() : entityList(section));
  };
  const nav = h('nav', { id: 'sections' }, sections.map((s) => h('a', { href: `#${s.kind}`, 'data-kind': s.kind }, s.title)));
  const content = h('div', { id: 'content' });
  window.onhashchange = show;
  show();
  return h('div', {}, nav, content);
}

// Call recordings: the company's for an admin, the user's own in their portal (the API
// narrows the list to what the session reaches).
function recordingsSpec(company) {
  return {
    kind: 'recordings', title: 'Recordings', path: `${company}/recordings`, id: (r) => r.id,
    columns: [['started_at', 'When'], ['from', 'From'], ['to', 'To'], ['extension', 'For'], ['seconds', 'Seconds']],
    actions: (recording) => {
      const audio = `${company}/recordings/${encodeURIComponent(recording.id)}/audio`;
      return [h('audio', { controls: true, preload: 'none', src: audio }), ' ', h('a', { href: audio, download: `${recording.id}.wav` }, 'Download')];
    },
  };
}

// The voicemail boxes a user owns, each with its messages: listen, mark heard, delete.
function myVoicemailPage(company) {
  const boxes = h('div', { id: 'my-voicemail' });
  const error = h('p', { class: 'error' });
  async function load() {
    const owned = await api('GET', `${company}/voicemail-boxes`);
    if (!owned.length) {
      boxes.replaceChildren(h('p', { class: 'muted' }, 'No voicemail box is yours. Your admin can make one yours.'));
      return;
    }
    boxes.replaceChildren(...await Promise.all(owned.map(async (mailbox) => {
      const path = `${company}/voicemail-boxes/${encodeURIComponent(mailbox.name)}/messages`;
      const messages = await api('GET', path);
      const act = (what) => async () => {
        error.textContent = '';
        try { await what(); await load(); } catch (failure) { error.textContent = failure.message; }
      };
      const rows = messages.map((m) => {
        const audio = `${path}/${encodeURIComponent(m.id)}/audio`;
        return h('tr', { 'data-id': m.id, class: m.heard ? 'heard' : 'new' },
          h('td', {}, m.received_at), h('td', {}, m.caller), h('td', {}, (m.duration_ms / 1000).toFixed(1)),
          h('td', {}, h('audio', { controls: true, preload: 'none', src: audio }), ' ', h('a', { href: audio, download: `${m.id}.wav` }, 'Download')),
          h('td', {}, h('button', { class: 'heard', onclick: act(() => api('PATCH', `${path}/${encodeURIComponent(m.id)}`, { heard: !m.heard })) }, m.heard ? 'Mark new' : 'Mark heard')),
          h('td', {}, h('button', { class: 'delete', onclick: act(() => api('DELETE', `${path}/${encodeURIComponent(m.id)}`)) }, 'Delete')));
      });
      if (!rows.length) rows.push(h('tr', {}, h('td', { colspan: 6, class: 'muted' }, 'No messages.')));
      return h('section', { 'data-box': mailbox.name }, h('h2', {}, `${mailbox.name} (${mailbox.number})`),
        h('table', { class: 'messages' }, h('thead', {}, h('tr', {}, ['When', 'From', 'Seconds', '', '', ''].map((t) => h('th', {}, t)))), h('tbody', {}, rows)));
    })));
  }
  load().catch((failure) => { error.textContent = failure.message; });
  return h('div', {}, h('section', {}, h('h1', {}, 'My voicemail'), error), boxes);
}

// A user's devices (SPEC §8), as their portal shows them: `user` is the user's URL.
function devicesSpec(user) {
  return {
    kind: 'devices', title: 'Devices', singular: 'device', path: `${user}/devices`, id: (device) => device.id,
    bodyKeys: ['id', 'name', 'kind', 'order', 'enabled'],
    columns: [['id', 'Id'], ['name', 'Name'], ['kind', 'Kind'], ['order', 'Ring order'], ['enabled', 'Enabled'], ['sip_username', 'SIP user']],
    fields: [
      { name: 'id', label: 'Id', required: true, example: 'desk' },
      { name: 'name', label: 'Name', required: true },
      { name: 'kind', label: 'Kind', options: ['desk_phone', 'softphone', 'mobile_app', 'web_phone'] },
      { name: 'order', label: 'Ring order (0 never rings)', type: 'number' },
      { name: 'enabled', label: 'Enabled', type: 'checkbox', checked: true },
    ],
  };
}

// An admin's view of any user's devices: pick the extension, then the same list.
function adminDevicesPage(company) {
  const shown = h('div', { id: 'user-devices' });
  const form = h('form', { class: 'tools', id: 'pick-extension' },
    h('input', { name: 'extension', placeholder: 'Extension', 'aria-label': 'Extension', required: true }),
    h('button', { type: 'submit' }, 'Show devices'));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const user = `${company}/users/${encodeURIComponent(form.extension.value.trim())}`;
    shown.replaceChildren(entityList({ ...devicesSpec(user), title: `Devices of ${form.extension.value.trim()}` }));
  });
  return h('div', {}, h('section', {}, h('h1', {}, 'Devices'), form), shown);
}

// The user portal (SPEC §8): their devices and ring order, what is registered now, and
// how their web phone rings.
function userSections() {
  const company = `/api/v1/companies/${encodeURIComponent(me.company)}`;
  const user = `${company}/users/${encodeURIComponent(me.extension)}`;
  return [
    { ...devicesSpec(user), title: 'My devices' },
    { kind: 'registrations', title: 'Registered now', path: `${user}/registrations`, remove: false, id: (r) => r.contact,
      columns: [['contact', 'Contact'], ['transport', 'Transport'], ['source', 'From'], ['user_agent', 'Phone']] },
    { kind: 'web-phone', title: 'Web phone', page: () => webPhonePage(user) },
    { ...recordingsSpec(company), title: 'My recordings', remove: false },
    { kind: 'voicemail', title: 'My voicemail', page: () => myVoicemailPage(company) },
  ];
}

function webPhonePage(user) {
  const mode = h('select', { id: 'web-phone-mode', 'aria-label': 'Web phone mode' },
    h('option', { value: 'multi_device' }, 'rings with my other devices'),
    h('option', { value: 'exclusive' }, 'rings alone while logged in'));
  const said = h('p', { class: 'muted', id: 'web-phone-saved' });
  api('GET', user).then((view) => { mode.value = view.web_phone_mode; }).catch((e) => { said.textContent = e.message; });
  mode.addEventListener('change', async () => {
    try {
      await api('PUT', `${user}/web-phone-mode`, { web_phone_mode: mode.value });
      said.textContent = 'Saved.';
    } catch (error) {
      said.textContent = error.message;
    }
  });
  return h('section', {}, h('h1', {}, 'Web phone'),
    h('p', {}, 'Your phone in the browser: ', h('a', { href: '/phone', id: 'web-phone-link' }, 'open the web phone'), '.'),
    h('label', {}, 'It ', mode), said);
}

function render() {
  const logout = document.getElementById('logout');
  if (!me) {
    document.getElementById('who').textContent = '';
    logout.hidden = true;
    loginPage();
    return;
  }
  const who = me.role === 'operator' ? 'operator' : `${me.role} · ${me.company} · ${me.extension}`;
  document.getElementById('who').replaceChildren(who, ...(opened ? [' · managing ', h('strong', { id: 'opened-company' }, opened), ' ',
    h('button', { id: 'close-company', onclick: () => { opened = null; location.hash = ''; render(); } }, 'Back to all companies')] : []));
  document.body.dataset.role = me.role;
  logout.hidden = false;
  const page = {
    operator: () => sectionsPage(opened ? adminSections(opened) : operatorSections()),
    admin: () => sectionsPage(adminSections(me.company)),
    user: () => sectionsPage(userSections()),
  }[me.role];
  main.replaceChildren(page());
}

document.getElementById('logout').addEventListener('click', async () => {
  await api('POST', '/panel/logout').catch(() => {});
  me = null;
  opened = null;
  render();
});

const session = await api('GET', '/panel/me').catch(() => null);
me = session?.role ? session : null;
render();
window.panelReady = true;
