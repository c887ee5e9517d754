/**
 * @module routes/validation — request validation failures become `400 invalid_request` with a
 * message that points at the offending field (never echoing its value).
 */
import type { ZodError } from "zod";
import { AppError } from "../errors";

export function describeZodError(error: ZodError, target: string): string {
  const issue = error.issues[0];
  if (!issue) return `invalid ${target}`;
  const path = issue.path.length ? issue.path.join(".") : target;
  return `${path}: ${issue.message}`;
}

export const validationHook = (
  result: { success: true; data: unknown; target: string } | { success: false; error: ZodError; target: string },
): void => {
  if (!result.success) throw new AppError("invalid_request", describeZodError(result.error, result.target));
};
