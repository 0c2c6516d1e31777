// .proto files are imported as text (`with { type: "text" }`) and embedded by bun build --compile.
declare module "*.proto" {
  const text: string;
  export default text;
}
