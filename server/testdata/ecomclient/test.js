'use strict'

// Drives the published @ecomplus/client and @ecomplus/auth packages, unmodified, against a
// storeapi server. They are configured only through their own environment variables, which
// must be set before they are required (both read them once, at load time):
//
//   ECOMCLIENT_API_STORE        http://127.0.0.1:PORT/v1/         (the "store" base)
//   ECOMCLIENT_API_STORE_CACHE  http://127.0.0.1:PORT/:id/v1/     (the "storeCache" base)
//   ECOM_STORE_ID               the store id (read by @ecomplus/utils' $ecomConfig)
//
// plus the admin credentials this script logs in with:
//
//   STOREAPI_USERNAME, STOREAPI_PASSWORD, STOREAPI_AUTHENTICATION_ID
//
// and, optionally, STOREAPI_EXPECT_SANDBOX=1 when the bases are the sandbox's
// (http://127.0.0.1:PORT/sandbox/v1/, …/sandbox/:id/v1/): then every answer checked must
// carry "X-Sandbox: true", and otherwise none may.
//
// Run by server/ecomclient_test.go; exits non-zero with a description of the first failed step.

const assert = require('node:assert/strict')
const crypto = require('node:crypto')

const env = name => {
  const value = process.env[name]
  assert.ok(value, `environment variable ${name} is not set`)
  return value
}

const API_STORE = env('ECOMCLIENT_API_STORE')
const API_STORE_CACHE = env('ECOMCLIENT_API_STORE_CACHE')
const STORE_ID = Number(env('ECOM_STORE_ID'))
const USERNAME = env('STOREAPI_USERNAME')
const PASSWORD = env('STOREAPI_PASSWORD')
const AUTHENTICATION_ID = env('STOREAPI_AUTHENTICATION_ID')
const EXPECT_SANDBOX = process.env.STOREAPI_EXPECT_SANDBOX === '1'

// The clients under test; the Node build of @ecomplus/auth exports its default EcomAuth
// instance (webpack libraryExport "default").
const ecomClient = require('@ecomplus/client')
const ecomAuth = require('@ecomplus/auth')

// Paths as the server sees them, to prove which base each call went through.
const storePath = new URL(API_STORE).pathname // "/v1/"
const cachePath = new URL(API_STORE_CACHE.replace(':id', STORE_ID)).pathname // "/1000/v1/"

const OBJECT_ID = /^[0-9a-f]{24}$/
const md5 = s => crypto.createHash('md5').update(s).digest('hex')

// Stop hanging runs: the clients schedule 30 s timers, and a hung request must not hang CI.
setTimeout(() => {
  console.error('FAIL: the script did not finish within 25 s')
  process.exit(1)
}, 25000).unref()

// requestPath is the path (with query) of the HTTP request behind an axios response.
const requestPath = res => res.request && res.request.path

// rejected awaits a request that must fail and returns its axios error response.
const rejected = async (promise, what) => {
  let res
  try {
    res = await promise
  } catch (err) {
    assert.ok(err.response, `${what}: no HTTP response: ${err.message}`)
    return err.response
  }
  assert.fail(`${what}: want an error answer, got ${res.status} ${JSON.stringify(res.data)}`)
}

// checkEnv checks that an answer comes from the environment the bases point at.
const checkEnv = (res, what) => {
  assert.equal(res.headers['x-sandbox'], EXPECT_SANDBOX ? 'true' : undefined, `${what}: X-Sandbox header`)
}

// checkError checks the body of a 4xx/5xx answer against the server's error shape.
const checkError = (res, status, what) => {
  checkEnv(res, what)
  assert.equal(res.status, status, `${what}: status ${res.status} ${JSON.stringify(res.data)}`)
  assert.equal(res.data.status, status, `${what}: body status`)
  assert.ok(res.data.error_code !== undefined, `${what}: error_code missing`)
  assert.equal(typeof res.data.message, 'string', `${what}: message`)
}

let current = ''
const step = async (name, fn) => {
  current = name
  await fn()
  console.log(`ok   ${name}`)
}

const main = async () => {
  const sku = `ecomclient-${Date.now().toString(36)}`
  let productId, otherId

  await step('a wrong password is refused (401, error_code 102)', async () => {
    const res = await rejected(ecomClient.store({
      url: '/_login.json?username',
      method: 'post',
      data: { username: USERNAME, pass_md5_hash: md5(PASSWORD + 'x') }
    }), 'login with a wrong password')
    checkError(res, 401, 'login with a wrong password')
    assert.equal(res.data.error_code, 102)
  })

  await step('ecomClient.store _login + _authenticate (lower-level path)', async () => {
    const login = await ecomClient.store({
      url: '/_login.json',
      method: 'post',
      data: { username: USERNAME, pass_md5_hash: md5(PASSWORD) }
    })
    assert.equal(login.status, 200)
    assert.equal(requestPath(login), `${storePath}_login.json`)
    checkEnv(login, '_login')
    assert.equal(login.data._id, AUTHENTICATION_ID)
    assert.equal(login.data.store_id, STORE_ID)
    assert.equal(typeof login.data.api_key, 'string')
    const auth = await ecomClient.store({
      url: '/_authenticate.json',
      method: 'post',
      storeId: login.data.store_id,
      data: { _id: login.data._id, api_key: login.data.api_key }
    })
    assert.equal(auth.status, 200)
    assert.equal(auth.data.my_id, AUTHENTICATION_ID)
    assert.equal(typeof auth.data.access_token, 'string')
    assert.ok(auth.data.access_token.length > 0)
    const expires = new Date(auth.data.expires).getTime()
    assert.ok(expires > Date.now() + 23 * 3600 * 1000, `expires ${auth.data.expires} is not ~24 h ahead`)
  })

  await step('ecomAuth.login (username: ?username, md5 password, _authenticate, session)', async () => {
    // setSession fetches the admin's authentication right after the login; wait for it so
    // that a failure there fails this step instead of being an unhandled rejection.
    const fetched = new Promise(resolve => ecomAuth.once('updateAuthentication', resolve))
    const loggedIn = new Promise(resolve => ecomAuth.once('login', resolve))
    const self = await ecomAuth.login(USERNAME, PASSWORD)
    assert.equal(self, ecomAuth)
    await loggedIn
    assert.equal(ecomAuth.checkLogin(), true, 'checkLogin after login')
    assert.equal(ecomAuth.getAuthenticationId(), AUTHENTICATION_ID)
    const session = ecomAuth.getSession()
    assert.equal(session.store_id, STORE_ID)
    assert.equal(session.my_id, AUTHENTICATION_ID)
    assert.equal(session.username, USERNAME)
    await fetched
    const authentication = await ecomAuth.fetchAuthentication()
    assert.equal(authentication._id, AUTHENTICATION_ID)
    assert.equal(authentication.username, USERNAME)
    for (const secret of ['api_key', 'pass_md5_hash', 'password']) {
      assert.equal(authentication[secret], undefined, `authentication shows ${secret}`)
    }
  })

  await step('ecomAuth.fetchStore (GET /stores/me.json)', async () => {
    const store = await ecomAuth.fetchStore(true)
    assert.equal(store.store_id, STORE_ID, `store: ${JSON.stringify(store)}`)
    assert.match(store._id, OBJECT_ID)
    assert.equal(typeof store.name, 'string')
  })

  await step('create a product (POST /products.json → 201 {_id})', async () => {
    const res = await ecomAuth.requestApi('/products.json', 'post', {
      sku,
      name: 'E-Com Client Product',
      price: 99.9,
      quantity: 10,
      hidden_metafields: [{ _id: 'aaaaaaaaaaaaaaaaaaaaaaaa', field: 'secret', value: 'hidden' }]
    })
    assert.equal(res.status, 201)
    assert.equal(requestPath(res), `${storePath}products.json`)
    checkEnv(res, 'POST products')
    assert.match(res.data._id, OBJECT_ID)
    productId = res.data._id
    const other = await ecomAuth.requestApi('/products.json', 'post', {
      sku: `${sku}-other`,
      name: 'Another Product',
      price: 10
    })
    assert.equal(other.status, 201)
    assert.match(other.data._id, OBJECT_ID)
    otherId = other.data._id
    assert.notEqual(otherId, productId)
  })

  await step('GET it through the store base (X-Store-ID, authenticated)', async () => {
    const res = await ecomAuth.requestApi(`/products/${productId}.json`, 'get')
    assert.equal(res.status, 200)
    assert.equal(requestPath(res), `${storePath}products/${productId}.json`)
    checkEnv(res, 'GET through the store base')
    assert.equal(res.data._id, productId)
    assert.equal(res.data.sku, sku)
    assert.equal(res.data.name, 'E-Com Client Product')
    assert.equal(res.data.price, 99.9)
    assert.equal(res.data.store_id, STORE_ID)
    assert.equal(res.data.visible, true, 'schema default visible')
    assert.equal(res.data.hidden_metafields[0].value, 'hidden', 'the admin sees hidden_metafields')
    assert.ok(!Number.isNaN(Date.parse(res.data.created_at)), 'created_at')
  })

  await step('GET it through the storeCache base (/:id/v1/, public)', async () => {
    const res = await ecomClient.store({ url: `/products/${productId}.json` })
    assert.equal(res.status, 200)
    assert.equal(requestPath(res), `${cachePath}products/${productId}.json`)
    checkEnv(res, 'GET through the storeCache base')
    assert.equal(res.data._id, productId)
    assert.equal(res.data.sku, sku)
    assert.equal(res.data.price, 99.9)
    assert.equal(res.data.hidden_metafields, undefined, 'public GET shows hidden_metafields')
  })

  await step('GET it through the store base (X-Store-ID, public, with a query)', async () => {
    const res = await ecomClient.store({ url: `/products/${productId}.json`, axiosConfig: { params: { fields: 'sku,name' } } })
    assert.equal(res.status, 200)
    assert.ok(requestPath(res).startsWith(`${storePath}products/${productId}.json?`), requestPath(res))
    assert.equal(res.data._id, productId)
    assert.equal(res.data.sku, sku)
    assert.equal(res.data.hidden_metafields, undefined, 'public GET shows hidden_metafields')
  })

  await step('PATCH it (204) and read the change through both bases', async () => {
    const res = await ecomAuth.requestApi(`/products/${productId}.json`, 'patch', { name: 'Patched Name', price: 120 })
    assert.equal(res.status, 204)
    const cached = await ecomClient.store({ url: `/products/${productId}.json` })
    assert.equal(requestPath(cached), `${cachePath}products/${productId}.json`)
    assert.equal(cached.data.name, 'Patched Name', 'the cache base answers the patched document')
    assert.equal(cached.data.price, 120)
    assert.equal(cached.data.sku, sku, 'PATCH keeps other fields')
    const live = await ecomAuth.requestApi(`/products/${productId}.json`, 'get')
    assert.equal(live.data.name, 'Patched Name')
    assert.equal(live.data.hidden_metafields.length, 1, 'PATCH keeps hidden_metafields')
  })

  await step('list products with filters (public, store base)', async () => {
    const bySku = await ecomClient.store({ url: `/products.json?sku=${sku}` })
    assert.equal(bySku.status, 200)
    assert.ok(requestPath(bySku).startsWith(`${storePath}products.json?`), requestPath(bySku))
    assert.equal(bySku.data.meta.count, 1, JSON.stringify(bySku.data.meta))
    assert.deepEqual(bySku.data.result.map(p => p._id), [productId])
    assert.equal(bySku.data.result[0].sku, sku)

    // axios encodes the operator key: price%3E=100 (price >= 100).
    const byPrice = await ecomClient.store({
      url: '/products.json',
      axiosConfig: { params: { 'price>': 100, 'sku%': 'ecomclient-', fields: 'sku,name,price', sort: '-price' } }
    })
    assert.equal(byPrice.status, 200)
    assert.deepEqual(byPrice.data.result.map(p => p._id), [productId], JSON.stringify(byPrice.data))
    assert.equal(byPrice.data.result[0].price, 120)

    const all = await ecomAuth.requestApi('/products.json', 'get', undefined, { params: { sort: 'price' } })
    const ids = all.data.result.map(p => p._id)
    assert.ok(ids.indexOf(otherId) > -1 && ids.indexOf(otherId) < ids.indexOf(productId), JSON.stringify(ids))
  })

  await step('DELETE it (204); GET afterwards is 404 through both bases', async () => {
    const res = await ecomAuth.requestApi(`/products/${productId}.json`, 'delete')
    assert.equal(res.status, 204)
    const cached = await rejected(ecomClient.store({ url: `/products/${productId}.json` }), 'cache GET after DELETE')
    checkError(cached, 404, 'cache GET after DELETE')
    assert.equal(cached.request.path, `${cachePath}products/${productId}.json`)
    const live = await rejected(ecomAuth.requestApi(`/products/${productId}.json`, 'get'), 'GET after DELETE')
    checkError(live, 404, 'GET after DELETE')
    const bySku = await ecomClient.store({ url: `/products.json?sku=${sku}` })
    assert.equal(bySku.data.meta.count, 0)
    assert.deepEqual(bySku.data.result, [])
    const other = await ecomAuth.requestApi(`/products/${otherId}.json`, 'delete')
    assert.equal(other.status, 204)
  })

  await step('writes without a token are refused (401)', async () => {
    const res = await rejected(ecomClient.store({
      url: '/products.json', method: 'post', data: { sku: `${sku}-anon`, name: 'Anonymous' }
    }), 'anonymous POST')
    checkError(res, 401, 'anonymous POST')
  })
}

main().then(() => {
  console.log('PASS')
  // The clients leave 30 s timers behind (session caches); do not wait for them.
  process.exit(0)
}, err => {
  console.error(`FAIL: ${current}`)
  if (err.response) {
    // An axios error: say which request failed and what the server answered.
    const { config, response } = err
    console.error(`${(config.method || 'get').toUpperCase()} ${config.baseURL || ''} ${config.url} → ${response.status}`)
    console.error(JSON.stringify(response.data))
    console.error(err.message)
  } else {
    console.error(err && err.stack ? err.stack : err)
  }
  process.exit(1)
})
