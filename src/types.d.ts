// SQL files are imported as text (`with { type: "text" }`) so migrations are embedded in the binary.
declare module "*.sql" {
  const text: string;
  export default text;
}

// YAML files are imported as text too (the default policy pack).
declare module "*.yaml" {
  const text: string;
  export default text;
}
