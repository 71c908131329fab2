// One environment (dev, stage or prod): network, identities and private DNS zones; the Azure ML
// workspace with its services; the cpu-cluster; private endpoints; role assignments.
// The Bicep twin of the Terraform stacks aml-vnet + aml-managed-smi (deploy registry.bicep first:
// this stack adds its own private endpoints to the registry and its managed network's rule to it).
//   az deployment sub create --location westeurope --template-file main.bicep \
//     --parameters @env/dev.parameters.json userObjectId=<group object id>
targetScope = 'subscription'

@description('3-8 lowercase letters/digits, shared by every environment (config-infra-<env>.yml: namespace).')
@minLength(3)
@maxLength(8)
param namespace string

@description('4 digits; change it to get globally unique names (config-infra-<env>.yml: postfix).')
@minLength(4)
@maxLength(4)
param postfix string

@description('dev, stage or prod (config-infra-<env>.yml: environment).')
@allowed([
  'dev'
  'stage'
  'prod'
])
param environmentName string

@description('Azure region (config-infra-<env>.yml: location).')
param location string

@description('Tags applied to every resource.')
param tags object = {}

@description('Private endpoints and public network access off (the default). false exposes the services publicly: for throw-away sandboxes only.')
param privateNetworkingEnabled bool = true

@description('Public IPs/CIDR ranges that may still reach the workspace and storage account. Empty keeps public access fully off.')
param allowedIpRanges array = []

@description('Entra ID object id of the user or group that works in the workspace.')
param userObjectId string

@description('User or Group.')
@allowed([
  'User'
  'Group'
])
param userPrincipalType string = 'Group'

@description('Address space of the environment virtual network.')
param vnetAddressSpace string = '10.0.0.0/16'

@description('Subnet that holds the private endpoints (and self-hosted agents, if you place them here).')
param privateSubnetPrefix string = '10.0.1.0/24'

@description('VM size of the cpu-cluster (config-infra-<env>.yml: compute_vm_size).')
param computeVmSize string = 'Standard_DS3_v2'

@description('Minimum nodes; 0 scales to zero when idle (config-infra-<env>.yml: compute_min_instances).')
@minValue(0)
param computeMinInstances int = 0

@description('Maximum nodes (config-infra-<env>.yml: compute_max_instances).')
@minValue(1)
param computeMaxInstances int = 2

@description('ISO 8601 idle time before nodes are released.')
param computeIdleBeforeScaleDown string = 'PT15M'

// The naming scheme shared with config-infra-<env>.yml, the pipelines and Terraform
// (infrastructure/terraform/modules/naming).
var names = {
  resourceGroup: 'rg-${namespace}-${postfix}${environmentName}'
  workspace: 'mlw-${namespace}-${postfix}${environmentName}'
  storageAccount: 'st${namespace}${postfix}${environmentName}'
  keyVault: 'kv-${namespace}-${postfix}${environmentName}'
  containerRegistry: 'cr${namespace}${postfix}${environmentName}'
  applicationInsights: 'appi-${namespace}-${postfix}${environmentName}'
  logAnalytics: 'log-${namespace}-${postfix}${environmentName}'
  virtualNetwork: 'vnet-${namespace}-${postfix}${environmentName}'
  subnet: 'snet-private'
  networkSecurityGroup: 'nsg-${namespace}-${postfix}${environmentName}'
  workspaceIdentity: 'id-${namespace}-${postfix}${environmentName}-ws'
  computeIdentity: 'id-${namespace}-${postfix}${environmentName}-compute'
  computeCluster: 'cpu-cluster'
  onlineEndpoint: 'ep-${namespace}-${postfix}${environmentName}'
  batchEndpoint: 'bep-${namespace}-${postfix}${environmentName}'
  registry: 'mlr-${namespace}-${postfix}'
  registryResourceGroup: 'rg-${namespace}-${postfix}shared'
}

var allTags = union({
  environment: environmentName
  workload: namespace
}, tags)

// Built-in role definition GUIDs (identical in every tenant); the Terraform stack uses the same.
var roleIds = {
  'Azure AI Administrator': 'b78c5d69-af96-48a3-bf8d-a8b4d589de94'
  'Azure AI Developer': '64702f94-c441-49e6-a78b-ef80e0188fee'
  'AzureML Compute Operator': 'e503ece1-11d0-4e8e-8e2c-7a6c3bf38815'
  'AzureML Data Scientist': 'f6c7c914-8db3-469d-8ca1-694a8f32e121'
  'Storage Blob Data Contributor': 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'
  'Key Vault Secrets User': '4633458b-17de-408a-b874-0445c86b69e6'
  AcrPull: '7f951dda-4ed3-4680-a7ca-43fe172d538d'
  // Identity-based system datastores reach the workspace file share with this role
  // (https://learn.microsoft.com/azure/machine-learning/how-to-disable-local-auth-storage).
  'Storage File Data Privileged Contributor': '69566ab7-960f-475b-8e7c-b3118f30c6bd'
}

// The workspace identity needs its resource-group role before the workspace is created with it.
var bootstrapRoleAssignments = [
  {
    principal: 'workspace'
    role: 'Azure AI Administrator'
    scope: 'resource_group'
  }
]

// Who gets which role where. scope: workspace | storage | container_registry | resource_group;
// principal: user (the team's user or group) | compute | workspace (identities).
var roleAssignments = [
  {
    principal: 'user'
    role: 'Azure AI Developer'
    scope: 'workspace'
  }
  {
    principal: 'user'
    role: 'AzureML Compute Operator'
    scope: 'workspace'
  }
  {
    principal: 'user'
    role: 'AzureML Data Scientist'
    scope: 'workspace'
  }
  {
    principal: 'user'
    role: 'Storage Blob Data Contributor'
    scope: 'storage'
  }
  {
    principal: 'user'
    role: 'Storage File Data Privileged Contributor'
    scope: 'storage'
  }
  {
    principal: 'compute'
    role: 'AzureML Data Scientist'
    scope: 'resource_group'
  }
  {
    principal: 'compute'
    role: 'Storage Blob Data Contributor'
    scope: 'resource_group'
  }
  {
    principal: 'compute'
    role: 'Key Vault Secrets User'
    scope: 'resource_group'
  }
  // Jobs pull their environment images from the workspace registry as the compute identity.
  {
    principal: 'compute'
    role: 'AcrPull'
    scope: 'container_registry'
  }
]
// The workspace identity's storage roles are granted inside modules/workspace.bicep, before the
// workspace (workspaceBlobRole, workspaceFileRole).

// The shared registry (registry.bicep), read for its id and the ids of its system-created
// storage account and container registry.
resource sharedRegistry 'Microsoft.MachineLearningServices/registries@2024-10-01' existing = {
  name: names.registry
  scope: resourceGroup(names.registryResourceGroup)
}

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: names.resourceGroup
  location: location
  tags: allTags
}

module network 'modules/network.bicep' = {
  name: 'network'
  scope: rg
  params: {
    location: location
    tags: allTags
    vnetName: names.virtualNetwork
    nsgName: names.networkSecurityGroup
    subnetName: names.subnet
    vnetAddressSpace: vnetAddressSpace
    privateSubnetPrefix: privateSubnetPrefix
    workspaceIdentityName: names.workspaceIdentity
    computeIdentityName: names.computeIdentity
  }
}

module workspaceIdentityRoles 'modules/role-assignments.bicep' = {
  name: 'workspace-identity-roles'
  scope: rg
  params: {
    assignments: bootstrapRoleAssignments
    roleIds: roleIds
    principals: {
      workspace: {
        id: network.outputs.workspaceIdentityPrincipalId
        type: 'ServicePrincipal'
      }
    }
    workspaceName: names.workspace
    storageAccountName: names.storageAccount
    containerRegistryName: names.containerRegistry
  }
}

module workspace 'modules/workspace.bicep' = {
  name: 'workspace'
  scope: rg
  params: {
    location: location
    tags: allTags
    names: names
    publicNetworkAccess: privateNetworkingEnabled ? 'Disabled' : 'Enabled'
    allowListPublicNetworkAccess: (privateNetworkingEnabled && empty(allowedIpRanges)) ? 'Disabled' : 'Enabled'
    firewallDefaultAction: privateNetworkingEnabled ? 'Deny' : 'Allow'
    allowedIpRanges: allowedIpRanges
    privateEndpointSubnetId: privateNetworkingEnabled ? network.outputs.subnetId : ''
    workspaceIdentityId: network.outputs.workspaceIdentityId
    workspaceIdentityPrincipalId: network.outputs.workspaceIdentityPrincipalId
    roleIds: roleIds
    registryId: sharedRegistry.id
    registryName: names.registry
    registryStorageAccountId: sharedRegistry.properties.regionDetails[0].storageAccountDetails[0].systemCreatedStorageAccount.armResourceId.resourceId
    registryContainerRegistryId: sharedRegistry.properties.regionDetails[0].acrDetails[0].systemCreatedAcrAccount.armResourceId.resourceId
  }
  dependsOn: [
    workspaceIdentityRoles
  ]
}

module compute 'modules/compute.bicep' = {
  name: 'compute'
  scope: rg
  params: {
    location: location
    tags: allTags
    workspaceName: workspace.outputs.workspaceName
    clusterName: names.computeCluster
    computeIdentityId: network.outputs.computeIdentityId
    vmSize: computeVmSize
    minNodeCount: computeMinInstances
    maxNodeCount: computeMaxInstances
    idleBeforeScaleDown: computeIdleBeforeScaleDown
  }
  // Image pulls need the compute identity's AcrPull before the first node starts.
  dependsOn: [
    roles
  ]
}

module roles 'modules/role-assignments.bicep' = {
  name: 'role-assignments'
  scope: rg
  params: {
    assignments: roleAssignments
    roleIds: roleIds
    principals: {
      user: {
        id: userObjectId
        type: userPrincipalType
      }
      compute: {
        id: network.outputs.computeIdentityPrincipalId
        type: 'ServicePrincipal'
      }
      workspace: {
        id: network.outputs.workspaceIdentityPrincipalId
        type: 'ServicePrincipal'
      }
    }
    workspaceName: workspace.outputs.workspaceName
    storageAccountName: workspace.outputs.storageAccountName
    containerRegistryName: workspace.outputs.containerRegistryName
  }
}

output resourceGroupName string = rg.name
output workspaceName string = workspace.outputs.workspaceName
output computeClusterName string = compute.outputs.clusterName
