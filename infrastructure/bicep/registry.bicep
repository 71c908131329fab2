// Deployed first, once: the Azure ML registry shared by every environment and its Log Analytics
// workspace. The Bicep twin of the Terraform stack aml-registry-smi. Each environment's
// main.bicep then adds its own private endpoints to the registry (and to its storage and ACR)
// and its managed network's rule to it: this deployment writes nothing into an environment.
//   az deployment sub create --location westeurope --template-file registry.bicep \
//     --parameters @env/shared.parameters.json
targetScope = 'subscription'

@description('3-8 lowercase letters/digits (config-infra-<env>.yml: namespace).')
@minLength(3)
@maxLength(8)
param namespace string

@description('4 digits (config-infra-<env>.yml: postfix).')
@minLength(4)
@maxLength(4)
param postfix string

@description('Azure region of the registry (config-infra-<env>.yml: location).')
param location string

@description('Public network access off (the default); each environment\'s main.bicep adds its private endpoints.')
param privateNetworkingEnabled bool = true

@description('Tags applied to every resource.')
param tags object = {}

var names = {
  registry: 'mlr-${namespace}-${postfix}'
  registryResourceGroup: 'rg-${namespace}-${postfix}shared'
  logAnalytics: 'log-${namespace}-${postfix}shared'
}

var allTags = union({
  environment: 'shared'
  workload: namespace
}, tags)

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: names.registryResourceGroup
  location: location
  tags: allTags
}

module registry 'modules/registry.bicep' = {
  name: 'registry'
  scope: rg
  params: {
    location: location
    tags: allTags
    registryName: names.registry
    logAnalyticsName: names.logAnalytics
    privateNetworkingEnabled: privateNetworkingEnabled
  }
}

output registryName string = registry.outputs.registryName
