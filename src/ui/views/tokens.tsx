/**
 * The table of static tokens an owner has: description, masked preview, created and last
 * used. It never sees a token's plaintext or hash (the listing selects neither).
 */
import type { StaticTokenView } from "../../admin/static-tokens";
import { TableWrap, Time } from "./layout";

export function TokenTable({ tokens, caption, emptyText }: { tokens: StaticTokenView[]; caption: string; emptyText: string }) {
  if (tokens.length === 0) return <p class="empty">{emptyText}</p>;
  return (
    <TableWrap label={caption}>
      <table>
        <caption class="visually-hidden">{caption}</caption>
        <thead>
          <tr>
            <th scope="col">Description</th>
            <th scope="col">Token</th>
            <th scope="col">Created</th>
            <th scope="col">Last used</th>
          </tr>
        </thead>
        <tbody>
          {tokens.map((t) => (
            <tr>
              <td>{t.description === "" ? <span class="empty">(no description)</span> : t.description}</td>
              <td>
                <code>{t.preview}</code>
              </td>
              <td>
                <Time at={t.created_at} />
              </td>
              <td>
                <Time at={t.last_used_at} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </TableWrap>
  );
}
