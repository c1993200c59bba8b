// Every GraphQL document the dashboard sends, in one place, so schema changes are one edit.
// The graph (`instances`, `instance(id) { ... }`) is preferred over the deprecated root fields.
// Where an answer's shape may change (a root field becoming a payload with userErrors), the
// screens read it through `read` below, so such a change is an edit of this file only.

import { checked } from "./api.js";

const USER_ERRORS = "userErrors { field code message }";
const USER = "id email firstName lastName role isActive createdAt lastLoginAt";
const LIMITS = "limits { maxMessagesSent maxMediaSent maxApiCalls }";
const WEBHOOK = `webhookUrl webhookEnabled webhookSettings {
  notifyReceived notifySent notifyDelivery notifyRead maxRetries retryInterval events }`;
const INSTANCE = `id name description engine status statusReason phone pushName
  lastActivity createdAt ${WEBHOOK} ${LIMITS}`;
const MESSAGE = `id messageId fromMe messageType content caption fileName mimeType hasMedia
  status createdAt remoteJid`;

export const LOGIN = `mutation Login($email: String!, $password: String!) {
  login(email: $email, password: $password) { token user { ${USER} } } }`;

export const ME = `query Me { me { ${USER} } }`;

export const INSTANCES = `query Instances { instances { ${INSTANCE} } }`;

export const INSTANCE_DETAIL = `query Instance($id: ID!) { instance(id: $id) { ${INSTANCE}
  connectionStatus { ready status hasQr reason } } }`;

export const INSTANCE_STATUS = `subscription Status($ids: [ID!]) {
  instanceStatus(instanceIds: $ids) {
    instance { id status statusReason phone pushName }
    status { ready status hasQr reason } } }`;

export const CREATE_INSTANCE = `mutation Create($input: NewInstanceInput!) {
  createInstance(input: $input) { instance { ${INSTANCE} } ${USER_ERRORS} } }`;

export const UPDATE_INSTANCE = `mutation Update($id: ID!, $input: InstanceChangesInput!) {
  updateInstance(id: $id, input: $input) { instance { ${INSTANCE} } ${USER_ERRORS} } }`;

export const DELETE_INSTANCE = `mutation Delete($id: ID!) { deleteInstance(id: $id) { success message } }`;
export const RECONNECT = `mutation Reconnect($id: ID!) { reconnectInstance(id: $id) { success message } }`;
export const LOGOUT_INSTANCE = `mutation Logout($id: ID!) { logoutInstance(id: $id) { success message } }`;
export const PAIRING_CODE = `mutation Pair($id: ID!, $phone: String!) {
  requestPairingCode(instanceId: $id, phone: $phone) { code ${USER_ERRORS} } }`;

const EVENT = `id type timestamp
    ... on MessageReceived { data { messageId remoteJid from body pushName hasMedia } }
    ... on MessageSent { data { messageId remoteJid to body hasMedia } }
    ... on MessageStatus { data { messageId status } }
    ... on Disconnected { data { reason willReconnect } }
    ... on LimitExceeded { data { exceededLimits } }`;

export const INSTANCE_EVENTS = `subscription Events($id: ID!) {
  instanceEvents(instanceId: $id) { ${EVENT} } }`;

/** The feed's history: the instance's newest `last` events, oldest first. */
export const EVENT_HISTORY = `query EventHistory($id: ID!, $last: Int!) { instance(id: $id) {
  events(last: $last) { nodes { ${EVENT} } } } }`;

export const CHATS = `query Chats($id: ID!) { instance(id: $id) {
  chats(first: 100) { nodes { remoteJid name isGroup unreadCount messageCount
    lastMessage { content caption fileName messageType fromMe createdAt } } } } }`;

export const MESSAGES = `query Messages($id: ID!, $chat: String!) { instance(id: $id) {
  messages(chatId: $chat, first: 50) { nodes { ${MESSAGE} } } } }`;

export const MARK_READ = `mutation Read($id: ID!, $chat: String!) {
  markChatAsRead(instanceId: $id, chatId: $chat) { markedRead ${USER_ERRORS} } }`;

export const SEND_TEXT = `mutation SendText($id: ID!, $phone: String!, $message: String!) {
  sendText(instanceId: $id, phone: $phone, message: $message) { message { ${MESSAGE} } ${USER_ERRORS} } }`;

export const SEND_FILE = `mutation SendFile($id: ID!, $phone: String!, $file: Upload!, $caption: String) {
  sendFile(instanceId: $id, phone: $phone, file: $file, caption: $caption) {
    message { ${MESSAGE} } ${USER_ERRORS} } }`;

export const CONTACTS = `query Contacts($id: ID!, $search: String) { instance(id: $id) {
  contacts(first: 200, search: $search) { nodes { id name number remoteJid pushName isGroup lastActivity } } } }`;

export const SAVE_CONTACT = `mutation Save($id: ID!, $input: ContactInput!) {
  saveContact(instanceId: $id, input: $input) { contact { id } ${USER_ERRORS} } }`;

export const IMPORT_CONTACTS = `mutation Import($id: ID!) {
  importWhatsappContacts(instanceId: $id) { imported ${USER_ERRORS} } }`;

export const WEBHOOK_DETAIL = `query Webhook($id: ID!) { instance(id: $id) { id ${WEBHOOK}
  webhookDeliveries(first: 20) { nodes { id event status attempts maxAttempts lastStatusCode
    lastError lastDurationMs createdAt deliveredAt nextAttemptAt } } } }`;

export const WEBHOOK_SECRET = `query Secret($id: ID!) { instance(id: $id) { webhookSettings { secret headers } } }`;

export const TEST_WEBHOOK = `mutation Test($id: ID!) { sendTestWebhook(instanceId: $id) {
  result { success outcome statusCode error durationMs } ${USER_ERRORS} } }`;

export const RETRY_DELIVERY = `mutation Retry($id: ID!, $delivery: ID!) {
  requeueWebhookDelivery(instanceId: $id, deliveryId: $delivery) { delivery { id status attempts } ${USER_ERRORS} } }`;

export const USAGE = `query Usage($id: ID!) { instance(id: $id) { id ${LIMITS}
  usageToday { messagesSent messagesReceived mediaSent mediaReceived apiCalls }
  stats(period: "month") { usage { messagesSent messagesReceived mediaSent mediaReceived apiCalls
    dailyStats { date messagesSent messagesReceived mediaSent mediaReceived } } } } }`;

export const USERS = `query Users { allUsers(first: 1000) { nodes { ${USER} } } }`;

export const CREATE_USER = `mutation CreateUser($input: NewUserInput!) {
  createUser(input: $input) { user { ${USER} } apiKey ${USER_ERRORS} } }`;

export const UPDATE_USER = `mutation UpdateUser($id: ID!, $input: UserChangesInput!) {
  updateUser(id: $id, input: $input) { user { ${USER} } ${USER_ERRORS} } }`;

export const ROTATE_USER_API_KEY = `mutation RotateUser($id: ID!) {
  rotateUserApiKey(userId: $id) { apiKey user { email } ${USER_ERRORS} } }`;

export const ROTATE_API_KEY = `mutation Rotate { rotateMyApiKey { apiKey ${USER_ERRORS} } }`;

export const DATABASE_STATUS = `query Database { databaseStatus { provider url healthy counts { kind count } } }`;

export const SWITCH_DATABASE = `mutation Switch($provider: String!, $migrate: Boolean!) {
  switchDatabase(provider: $provider, migrate: $migrate) {
    success message provider migrated { kind count } ${USER_ERRORS} } }`;

export const SYSTEM = `query System { systemStats {
  instances { total active } users { total active }
  usage { messagesSent messagesReceived mediaSent mediaReceived totalMediaSize apiCalls webhookSent } }
  engineWorkers { id pid status instances rssBytes restarts startedAt } }`;

/** How the screens read the answers whose shape may change; `checked` throws userErrors. */
export const read = {
  pairingCode: (data) => checked(data.requestPairingCode).code,
  importedContacts: (data) => checked(data.importWhatsappContacts).imported,
  webhookTest: (data) => checked(data.sendTestWebhook).result,
  users: (data) => data.allUsers.nodes,
  rotatedApiKey: (data) => checked(data.rotateMyApiKey).apiKey,
  rotatedUserApiKey: (data) => checked(data.rotateUserApiKey),
  payload: checked,
};
