// A form generated from a job type's JSON Schema (draft 2020-12, as schemars writes
// it): integers, numbers, strings, booleans, enums as selects, arrays and nested
// objects, with defaults filled in, ranges as limits and descriptions as help text.
// The form checks what it can before it posts, and shows the server's 400 details
// next to the fields their paths name.
'use strict';

const SchemaForm = (() => {
  const { h } = Ui;

  /** `schema` with its `$ref` followed into the root's `$defs`. */
  function resolve(schema, root) {
    let current = schema || {};
    for (let hops = 0; current.$ref && hops < 32; hops += 1) {
      const name = decodeURIComponent(current.$ref.replace(/^#\/(\$defs|definitions)\//, ''));
      const target = (root.$defs || root.definitions || {})[name] || {};
      const { $ref, ...rest } = current;
      current = { ...target, ...rest };
    }
    return current;
  }

  /** The schema without a `null` alternative, and whether null is allowed. */
  function unwrapNull(schema, root) {
    const resolved = resolve(schema, root);
    if (Array.isArray(resolved.type) && resolved.type.includes('null')) {
      const types = resolved.type.filter((type) => type !== 'null');
      return { schema: { ...resolved, type: types.length === 1 ? types[0] : types }, nullable: true };
    }
    for (const key of ['anyOf', 'oneOf']) {
      const options = resolved[key];
      if (Array.isArray(options) && options.length === 2) {
        const other = options.filter((option) => resolve(option, root).type !== 'null');
        if (other.length === 1) {
          const { [key]: _, ...rest } = resolved;
          return { schema: { ...resolve(other[0], root), ...rest }, nullable: true };
        }
      }
    }
    return { schema: resolved, nullable: false };
  }

  /** The values of an enum, with what each means: from `enum`, or a `oneOf` of consts. */
  function enumOptions(schema) {
    if (Array.isArray(schema.enum)) {
      return schema.enum.map((value) => ({ value, description: '' }));
    }
    const options = schema.oneOf || schema.anyOf;
    if (Array.isArray(options) && options.length > 0 && options.every((option) => 'const' in option
      || (Array.isArray(option.enum) && option.enum.length === 1))) {
      return options.map((option) => ({
        value: 'const' in option ? option.const : option.enum[0],
        description: option.description || '',
      }));
    }
    return null;
  }

  function kindOf(schema) {
    if (enumOptions(schema)) {
      return 'enum';
    }
    const type = Array.isArray(schema.type) ? null : schema.type;
    if (['boolean', 'integer', 'number', 'string', 'array'].includes(type)) {
      return type;
    }
    if (type === 'object' || schema.properties) {
      return 'object';
    }
    return 'json';
  }

  function labelOf(name, schema) {
    const words = schema.title || name.replace(/_/g, ' ').replace(/([a-z])([A-Z])/g, '$1 $2');
    return words.charAt(0).toUpperCase() + words.slice(1);
  }

  /**
   * Builds the form of `schema` into a new element. Answers `{element, read, showErrors,
   * clearErrors}`: `read()` answers `{value, problems}`, where each problem is
   * `{path, message}`; `showErrors(problems)` marks the fields their paths name.
   */
  function build(schema, options) {
    const root = schema;
    const fields = new Map();
    const formErrors = h('div', { class: 'error-text', role: 'alert' });
    // The type's description is shown above the form already.
    const { description, ...rootSchema } = schema;
    const rootField = objectField(rootSchema, root, '', options && options.title || 'Parameters',
      options && options.values, fields, true);
    const element = h('div', { class: 'schema-form' }, formErrors, rootField.element);

    function clearErrors() {
      formErrors.textContent = '';
      for (const field of fields.values()) {
        field.setError('');
      }
    }

    /** Marks each problem on the field its path names, or the nearest one above it. */
    function showErrors(problems) {
      clearErrors();
      const unplaced = [];
      let first = null;
      for (const problem of problems) {
        let path = problem.path || '';
        let field = fields.get(path);
        while (!field && path) {
          path = path.slice(0, path.lastIndexOf('/'));
          field = fields.get(path);
        }
        if (field && field !== rootField) {
          field.addError(problem.message);
          first = first || field;
        } else {
          unplaced.push(problem.message);
        }
      }
      formErrors.textContent = unplaced.join(' ');
      if (first) {
        first.focus();
      }
    }

    function read() {
      const problems = [];
      const { value } = rootField.read(problems);
      return { value: value === undefined ? {} : value, problems };
    }

    return { element, read, showErrors, clearErrors };
  }

  /** The label, help and error parts that every field has. */
  function frame(path, label, schema, required, fields, control) {
    const id = Ui.uniqueId('field');
    const helpId = `${id}-help`;
    const errorId = `${id}-error`;
    const help = schema.description ? h('p', { class: 'help', id: helpId }, schema.description) : null;
    const limits = limitsText(schema);
    const limitsLine = limits ? h('p', { class: 'help', id: `${id}-limits` }, limits) : null;
    const error = h('p', { class: 'error', id: errorId });
    control.id = id;
    control.setAttribute('aria-describedby',
      [help && helpId, limitsLine && `${id}-limits`, errorId].filter(Boolean).join(' '));
    if (required) {
      control.setAttribute('aria-required', 'true');
    }
    const wrapper = h('div', { class: 'field', 'data-path': path },
      control.type === 'checkbox'
        ? h('label', { for: id }, control, ' ', label)
        : [h('label', { for: id }, label, required ? ' (required)' : ''), control],
      help, limitsLine, error);
    const field = {
      element: wrapper,
      setError(message) {
        error.textContent = message;
        wrapper.classList.toggle('invalid', Boolean(message));
        if (message) {
          control.setAttribute('aria-invalid', 'true');
        } else {
          control.removeAttribute('aria-invalid');
        }
      },
      addError(message) {
        field.setError(error.textContent ? `${error.textContent} ${message}` : message);
      },
      focus() {
        control.focus();
      },
    };
    fields.set(path, field);
    return field;
  }

  function limitsText(schema) {
    const parts = [];
    if (schema.minimum !== undefined) parts.push(`at least ${schema.minimum}`);
    if (schema.exclusiveMinimum !== undefined) parts.push(`more than ${schema.exclusiveMinimum}`);
    if (schema.maximum !== undefined) parts.push(`at most ${schema.maximum}`);
    if (schema.exclusiveMaximum !== undefined) parts.push(`less than ${schema.exclusiveMaximum}`);
    if (schema.minLength !== undefined) parts.push(`at least ${schema.minLength} characters`);
    if (schema.maxLength !== undefined) parts.push(`at most ${schema.maxLength} characters`);
    if (schema.pattern !== undefined) parts.push(`matching ${schema.pattern}`);
    return parts.length ? `Allowed: ${parts.join(', ')}.` : '';
  }

  /** A field for `schema` at `path`, with `initial` as its value if given. */
  function field(schemaIn, root, path, name, initial, fields, required) {
    const { schema, nullable } = unwrapNull(schemaIn, root);
    const start = initial !== undefined ? initial : schema.default;
    const label = labelOf(name, schema);
    switch (kindOf(schema)) {
      case 'object':
        return objectField(schema, root, path, label, start, fields, required);
      case 'array':
        return arrayField(schema, root, path, label, start, fields, required);
      case 'boolean':
        return booleanField(schema, path, label, start, fields);
      case 'enum':
        return enumField(schema, path, label, start, fields, required, nullable);
      case 'integer':
      case 'number':
        return numberField(schema, path, label, start, fields, required, nullable);
      case 'string':
        return stringField(schema, path, label, start, fields, required, nullable);
      default:
        return jsonField(schema, path, label, start, fields, required);
    }
  }

  function numberField(schema, path, label, start, fields, required, nullable) {
    const integer = schema.type === 'integer';
    const input = h('input', {
      type: 'number', inputmode: integer ? 'numeric' : 'decimal', step: integer ? '1' : 'any',
      min: schema.minimum ?? null, max: schema.maximum ?? null,
      value: typeof start === 'number' ? String(start) : '',
    });
    const self = frame(path, label, schema, required, fields, input);
    self.read = (problems) => {
      const text = input.value.trim();
      if (text === '' && input.validity.badInput) {
        problems.push({ path, message: 'Enter a number.' });
        return {};
      }
      if (text === '') {
        if (required && !nullable) {
          problems.push({ path, message: 'This value is required.' });
        }
        return { value: required && nullable ? null : undefined };
      }
      const value = Number(text);
      if (!Number.isFinite(value)) {
        problems.push({ path, message: 'Enter a number.' });
      } else if (integer && !Number.isInteger(value)) {
        problems.push({ path, message: 'Enter a whole number.' });
      } else if (schema.minimum !== undefined && value < schema.minimum) {
        problems.push({ path, message: `Enter ${schema.minimum} or more.` });
      } else if (schema.maximum !== undefined && value > schema.maximum) {
        problems.push({ path, message: `Enter ${schema.maximum} or less.` });
      } else if (schema.exclusiveMinimum !== undefined && value <= schema.exclusiveMinimum) {
        problems.push({ path, message: `Enter more than ${schema.exclusiveMinimum}.` });
      } else if (schema.exclusiveMaximum !== undefined && value >= schema.exclusiveMaximum) {
        problems.push({ path, message: `Enter less than ${schema.exclusiveMaximum}.` });
      }
      return { value };
    };
    return self;
  }

  function stringField(schema, path, label, start, fields, required, nullable) {
    const input = h('input', {
      type: 'text', minlength: schema.minLength ?? null, maxlength: schema.maxLength ?? null,
      value: typeof start === 'string' ? start : '',
    });
    const self = frame(path, label, schema, required, fields, input);
    self.read = (problems) => {
      const value = input.value;
      if (value === '' && !required) {
        return {};
      }
      if (value === '' && nullable) {
        return { value: null };
      }
      if (schema.minLength !== undefined && [...value].length < schema.minLength) {
        problems.push({ path, message: `Enter at least ${schema.minLength} characters.` });
      } else if (schema.maxLength !== undefined && [...value].length > schema.maxLength) {
        problems.push({ path, message: `Enter at most ${schema.maxLength} characters.` });
      } else if (schema.pattern !== undefined) {
        try {
          if (!new RegExp(schema.pattern, 'u').test(value)) {
            problems.push({ path, message: `Enter text matching ${schema.pattern}.` });
          }
        } catch (_) {
          // A pattern this browser cannot read is left to the server.
        }
      }
      return { value };
    };
    return self;
  }

  function booleanField(schema, path, label, start, fields) {
    const input = h('input', { type: 'checkbox', checked: start === true });
    const self = frame(path, label, schema, false, fields, input);
    self.read = () => ({ value: input.checked });
    return self;
  }

  function enumField(schema, path, label, start, fields, required, nullable) {
    const options = enumOptions(schema);
    const select = h('select', {});
    if (!required || nullable) {
      select.append(h('option', { value: '' }, required ? '(none)' : '(default)'));
    }
    options.forEach((option, index) => {
      const text = option.description ? `${option.value} – ${option.description}` : String(option.value);
      select.append(h('option', { value: String(index), selected: option.value === start }, text));
    });
    const self = frame(path, label, schema, required, fields, select);
    self.read = () => {
      if (select.value === '') {
        return { value: required && nullable ? null : undefined };
      }
      return { value: options[Number(select.value)].value };
    };
    return self;
  }

  function jsonField(schema, path, label, start, fields, required) {
    const textarea = h('textarea', { spellcheck: 'false' });
    textarea.value = start === undefined ? '' : JSON.stringify(start, null, 2);
    const self = frame(path, label, { ...schema, description: [schema.description, 'Enter JSON.'].filter(Boolean).join(' ') },
      required, fields, textarea);
    self.read = (problems) => {
      if (textarea.value.trim() === '') {
        if (required) {
          problems.push({ path, message: 'This value is required.' });
        }
        return {};
      }
      try {
        return { value: JSON.parse(textarea.value) };
      } catch (error) {
        problems.push({ path, message: `This is not JSON: ${error.message}` });
        return {};
      }
    };
    return self;
  }

  function group(path, label, schema, fields) {
    const errorId = Ui.uniqueId('group-error');
    const error = h('p', { class: 'error', id: errorId });
    const fieldset = h('fieldset', { 'data-path': path, 'aria-describedby': errorId },
      h('legend', {}, label),
      schema.description ? h('p', { class: 'help' }, schema.description) : null);
    const self = {
      fieldset,
      error,
      setError(message) {
        error.textContent = message;
      },
      addError(message) {
        self.setError(error.textContent ? `${error.textContent} ${message}` : message);
      },
      focus() {
        const control = fieldset.querySelector('input, select, textarea, button');
        if (control) {
          control.focus();
        }
      },
    };
    fields.set(path, self);
    return self;
  }

  function objectField(schema, root, path, label, start, fields, required) {
    const self = group(path, label, schema, fields);
    const requiredNames = new Set(schema.required || []);
    const values = start && typeof start === 'object' ? start : {};
    const children = Object.entries(schema.properties || {})
      .filter(([, property]) => !resolve(property, root).readOnly)
      .map(([name, property]) => [name, field(property, root, `${path}/${escapePointer(name)}`,
        name, values[name], fields, requiredNames.has(name))]);
    for (const [, child] of children) {
      self.fieldset.append(child.element || child.fieldset);
    }
    self.fieldset.append(self.error);
    self.element = self.fieldset;
    self.read = (problems) => {
      const value = {};
      for (const [name, child] of children) {
        const read = child.read(problems);
        if (read.value !== undefined) {
          value[name] = read.value;
        }
      }
      return { value: required || Object.keys(value).length ? value : undefined };
    };
    return self;
  }

  function arrayField(schema, root, path, label, start, fields, required) {
    const self = group(path, label, schema, fields);
    const itemSchema = schema.items || {};
    const list = h('div', { class: 'array-items' });
    let items = [];
    const add = h('button', { type: 'button', class: 'secondary' }, `Add to ${label}`);
    self.fieldset.append(list, h('div', { class: 'actions' }, add), self.error);
    self.element = self.fieldset;

    /** Draws the items from `values`, so that every path matches its position. */
    function render(values) {
      for (const key of [...fields.keys()]) {
        if (key.startsWith(`${path}/`)) {
          fields.delete(key);
        }
      }
      list.textContent = '';
      items = values.map((value, index) => {
        const child = field(itemSchema, root, `${path}/${index}`, `${label} ${index + 1}`, value,
          fields, true);
        const remove = h('button', { type: 'button', class: 'secondary' }, `Remove ${label} ${index + 1}`);
        remove.addEventListener('click', () => {
          const kept = currentValues();
          kept.splice(index, 1);
          render(kept);
          add.focus();
        });
        list.append(h('div', { class: 'array-item' }, child.element || child.fieldset, remove));
        return child;
      });
    }

    function currentValues() {
      return items.map((child) => child.read([]).value);
    }

    add.addEventListener('click', () => {
      render([...currentValues(), undefined]);
      const last = list.lastElementChild;
      const control = last && last.querySelector('input, select, textarea');
      if (control) {
        control.focus();
      }
    });
    render(Array.isArray(start) ? start : []);

    self.read = (problems) => {
      const value = items.map((child) => {
        const read = child.read(problems);
        return read.value === undefined ? null : read.value;
      });
      if (schema.minItems !== undefined && value.length < schema.minItems) {
        problems.push({ path, message: `Add at least ${schema.minItems}.` });
      }
      if (schema.maxItems !== undefined && value.length > schema.maxItems) {
        problems.push({ path, message: `Keep at most ${schema.maxItems}.` });
      }
      return { value: value.length || required ? value : undefined };
    };
    return self;
  }

  function escapePointer(name) {
    return name.replace(/~/g, '~0').replace(/\//g, '~1');
  }

  return { build, resolve };
})();
