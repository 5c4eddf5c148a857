/**
 * Reading CloudFormation / SAM templates in tests: the YAML short forms of the intrinsic functions
 * (`!Ref`, `!Sub`, `!GetAtt`, …) loaded as their JSON forms (`{ Ref }`, `{ "Fn::Sub" }`, …), and an
 * evaluator for the few a function's environment uses — parameters, `!Sub` and `{{resolve:…}}` dynamic
 * references — so a test can hand a process exactly the environment the template would give it.
 */
import { CORE_SCHEMA, defineScalarTag, defineSequenceTag, load, type Schema } from "js-yaml";

const FUNCTIONS = [
  "Base64",
  "Cidr",
  "Equals",
  "FindInMap",
  "GetAtt",
  "GetAZs",
  "If",
  "ImportValue",
  "Join",
  "Not",
  "Or",
  "And",
  "Select",
  "Split",
  "Sub",
] as const;

function jsonForm(name: string, value: unknown): Record<string, unknown> {
  if (name === "Ref") return { Ref: value };
  // `!GetAtt Resource.Attribute` is the list form `[Resource, Attribute]`.
  if (name === "GetAtt" && typeof value === "string") return { "Fn::GetAtt": value.split(".") };
  return { [`Fn::${name}`]: value };
}

const tags = ["Ref", ...FUNCTIONS].flatMap((name) => [
  defineScalarTag(`!${name}`, {
    resolve: (source) => jsonForm(name, source),
    identify: () => false,
  }),
  defineSequenceTag<unknown[], Record<string, unknown>>(`!${name}`, {
    create: () => [],
    addItem: (items, item) => {
      items.push(item);
    },
    finalize: (items) => jsonForm(name, items),
    identify: () => false,
  }),
]);

export const CLOUDFORMATION_SCHEMA: Schema = CORE_SCHEMA.withTags(tags);

export function loadTemplate(text: string): Record<string, unknown> {
  return load(text, { schema: CLOUDFORMATION_SCHEMA }) as Record<string, unknown>;
}

export interface Deployment {
  /** Parameter values; a template parameter not given here takes its Default. */
  parameters: Record<string, string>;
  /** Secrets Manager secrets by name: a string, or a JSON object's fields. */
  secrets: Record<string, string | Record<string, string>>;
  /** SSM parameters by name. */
  ssm?: Record<string, string>;
}

/** Resolves `{{resolve:secretsmanager:name:SecretString:key}}` and `{{resolve:ssm:name}}` as CloudFormation would. */
function resolveDynamic(text: string, d: Deployment): string {
  return text.replace(/\{\{resolve:([a-z-]+):([^}]*)\}\}/g, (whole, service: string, ref: string) => {
    if (service === "secretsmanager") {
      const [name = "", kind = "SecretString", key = ""] = ref.split(":");
      if (kind !== "SecretString") throw new Error(`${whole}: only SecretString is supported`);
      const secret = d.secrets[name];
      if (secret === undefined) throw new Error(`${whole}: no secret ${name}`);
      if (key === "") return typeof secret === "string" ? secret : JSON.stringify(secret);
      if (typeof secret === "string" || secret[key] === undefined) throw new Error(`${whole}: no key ${key}`);
      return secret[key];
    }
    if (service === "ssm") {
      const value = d.ssm?.[ref];
      if (value === undefined) throw new Error(`${whole}: no SSM parameter ${ref}`);
      return value;
    }
    throw new Error(`${whole}: unsupported dynamic reference`);
  });
}

/** The value of a string-valued property: a literal, `!Ref` of a parameter, or `!Sub` of parameters. */
export function evaluate(template: Record<string, unknown>, value: unknown, d: Deployment): string {
  const declared = (template.Parameters ?? {}) as Record<string, { Default?: unknown }>;
  const param = (name: string): string => {
    if (!(name in declared)) throw new Error(`not a parameter of the template: ${name}`);
    const v = d.parameters[name] ?? declared[name]?.Default;
    if (v === undefined) throw new Error(`parameter ${name} has no value and no default`);
    return String(v);
  };
  if (typeof value === "string" || typeof value === "number" || typeof value === "boolean") {
    return resolveDynamic(String(value), d);
  }
  if (value && typeof value === "object" && "Ref" in value) return param(String(value.Ref));
  if (value && typeof value === "object" && "Fn::Sub" in value && typeof value["Fn::Sub"] === "string") {
    const text = value["Fn::Sub"].replace(/\$\{([A-Za-z0-9:]+)\}/g, (_, name: string) => param(name));
    return resolveDynamic(text, d);
  }
  throw new Error(`cannot evaluate ${JSON.stringify(value)}`);
}
