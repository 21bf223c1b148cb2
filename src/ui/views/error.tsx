/** The page for a refusal or a fault: the wire's status and code, and words a person can act on. */
import type { UiSession } from "../session";
import { Alert, Page } from "./layout";

export function ErrorPage({ session, title, code, message }: { session: UiSession | null; title: string; code: string; message: string }) {
  return (
    <Page title={title} session={session}>
      <Alert code={code}>{message}</Alert>
      <p>
        <a href={session ? "/settings" : "/settings/sign-in"}>{session ? "Back to your organizations" : "Sign in"}</a>
      </p>
    </Page>
  );
}
