// Vite's `?raw` imports (the bill fixture read as text in simulator.test.ts).
declare module "*.csv?raw" {
  const text: string;
  export default text;
}
