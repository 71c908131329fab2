// The Azure ML registry shared by every environment, its Log Analytics workspace, and a private
// endpoint in each environment's virtual network. The Bicep twin of the Terraform stack
// aml-registry-smi; deploy it after main.bicep has run for every networkEnvironments entry.
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

@description('Environments whose virtual network (from main.bicep) gets a private endpoint to the registry.')
param networkEnvironments array = [
  'dev'
  'stage'
  'prod'
]

@description('Private endpoints and public network access off (the default).')
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

var endpointEnvironments = privateNetworkingEnabled ? networkEnvironments : []

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

// The endpoint lives in the environment's resource group, next to its virtual network and the
// privatelink.api.azureml.ms zone main.bicep created there.
module privateEndpoint 'modules/private-endpoint.bicep' = [for env in endpointEnvironments: {
  name: 'pe-${names.registry}-${env}'
  scope: resourceGroup('rg-${namespace}-${postfix}${env}')
  params: {
    name: 'pe-${names.registry}-${env}'
    location: location
    tags: allTags
    subnetId: resourceId(subscription().subscriptionId, 'rg-${namespace}-${postfix}${env}', 'Microsoft.Network/virtualNetworks/subnets', 'vnet-${namespace}-${postfix}${env}', 'snet-private')
    targetResourceId: registry.outputs.registryId
    groupId: 'amlregistry'
    privateDnsZoneNames: [
      'privatelink.api.azureml.ms'
    ]
  }
}]

output registryName string = registry.outputs.registryName
